//go:build linux

package segment

import (
	"errors"
	"os"
	"syscall"
)

// fallocKeepSize is FALLOC_FL_KEEP_SIZE: allocate without changing the size.
const fallocKeepSize = 0x1

// preallocate allocates blocks of f for [off, off+n) without changing its
// size, where f is an operating-system file; for other Files it does nothing
// and says so.
func preallocate(f File, off, n int64) error {
	osf, ok := f.(*os.File)
	if !ok {
		return errors.ErrUnsupported
	}
	if n <= 0 {
		return nil
	}
	sc, err := osf.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := sc.Control(func(fd uintptr) {
		for {
			ferr = syscall.Fallocate(int(fd), fallocKeepSize, off, n)
			if ferr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return ferr
}
