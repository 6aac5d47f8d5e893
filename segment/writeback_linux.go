//go:build linux

package segment

import "golang.org/x/sys/unix"

// writeback starts writing [off, off+n) of f out to disk without waiting,
// where f is an operating-system file; for other Files it does nothing and
// says so.
func writeback(f File, off, n int64) error {
	return onFD(f, func(fd int) error { return unix.SyncFileRange(fd, off, n, unix.SYNC_FILE_RANGE_WRITE) })
}
