//go:build linux

package segment

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// writeback starts writing [off, off+n) of f out to disk without waiting,
// where f is an operating-system file; for other Files it does nothing and
// says so.
func writeback(f File, off, n int64) error {
	osf, ok := f.(*os.File)
	if !ok {
		return errors.ErrUnsupported
	}
	sc, err := osf.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	if err := sc.Control(func(fd uintptr) {
		for {
			werr = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
			if werr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return werr
}
