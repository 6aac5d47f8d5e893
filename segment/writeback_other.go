//go:build !linux

package segment

import "errors"

// writeback does nothing where sync_file_range is not available, and says
// so.
func writeback(File, int64, int64) error { return errors.ErrUnsupported }
