//go:build linux

package segment

import "syscall"

// fallocKeepSize is FALLOC_FL_KEEP_SIZE: allocate without changing the size.
const fallocKeepSize = 0x1

// preallocate allocates blocks of f for [off, off+n) without changing its
// size, where f is an operating-system file; for other Files it does nothing
// and says so.
func preallocate(f File, off, n int64) error {
	if n <= 0 {
		return nil
	}
	return onFD(f, func(fd int) error { return syscall.Fallocate(fd, fallocKeepSize, off, n) })
}
