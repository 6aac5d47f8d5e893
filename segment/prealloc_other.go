//go:build !linux

package segment

import "errors"

// preallocate does nothing where fallocate is not available, and says so.
func preallocate(File, int64, int64) error { return errors.ErrUnsupported }
