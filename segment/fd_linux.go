//go:build linux

package segment

import (
	"errors"
	"os"
	"syscall"
)

// onFD runs call on f's file descriptor, again while it fails with EINTR,
// where f is an operating-system file; for other Files it does nothing and
// returns errors.ErrUnsupported.
func onFD(f File, call func(fd int) error) error {
	osf, ok := f.(*os.File)
	if !ok {
		return errors.ErrUnsupported
	}
	sc, err := osf.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	if err := sc.Control(func(fd uintptr) {
		for {
			if cerr = call(int(fd)); cerr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return cerr
}
