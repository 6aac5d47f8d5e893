package segment

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// faultFS wraps an FS and injects errors, in the style of pebble's errorfs:
// each rule matches an operation and a file name suffix, and fires once
// armed. Safe for concurrent use.
type faultFS struct {
	FS
	mu    sync.Mutex
	rules []*faultRule
}

// faultRule fails op ("write", "truncate", "create", "sync", "rename",
// "remove") on
// files whose name ends with suffix. For "write", partial bytes are written
// before the error (a full disk mid-write). count < 0 fires forever.
type faultRule struct {
	op      string
	suffix  string
	partial int
	count   int
	err     error
	fired   int
	// block, if set, makes the operation wait until it is closed and then
	// proceed normally (no error): a slow disk. entered is closed when the
	// first operation starts waiting.
	block   chan struct{}
	entered chan struct{}
}

func (r *faultRule) String() string {
	return fmt.Sprintf("%s(*%s, partial=%d, count=%d)", r.op, r.suffix, r.partial, r.count)
}

func newFaultFS() *faultFS { return &faultFS{FS: OSFS{}} }

func (f *faultFS) add(r *faultRule) *faultRule {
	if r.err == nil {
		r.err = syscall.ENOSPC
	}
	f.mu.Lock()
	f.rules = append(f.rules, r)
	f.mu.Unlock()
	return r
}

func (f *faultFS) clear() {
	f.mu.Lock()
	f.rules = nil
	f.mu.Unlock()
}

// match returns the rule to fire for op on name, if any.
func (f *faultFS) match(op, name string) *faultRule {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.rules {
		if r.op == op && strings.HasSuffix(filepath.Base(name), r.suffix) && r.count != 0 {
			if r.count > 0 {
				r.count--
			}
			r.fired++
			return r
		}
	}
	return nil
}

func (f *faultFS) Create(name string) (File, error) {
	if r := f.match("create", name); r != nil {
		return nil, r.err
	}
	file, err := f.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, name: name}, nil
}

func (f *faultFS) OpenReadWrite(name string) (File, error) {
	file, err := f.FS.OpenReadWrite(name)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, name: name}, nil
}

func (f *faultFS) Remove(name string) error {
	if r := f.match("remove", name); r != nil {
		return r.err
	}
	return f.FS.Remove(name)
}

func (f *faultFS) Rename(o, n string) error {
	if r := f.match("rename", n); r != nil {
		return r.err
	}
	return f.FS.Rename(o, n)
}

type faultFile struct {
	File
	fs   *faultFS
	name string
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	if r := f.fs.match("write", f.name); r != nil && r.block != nil {
		if r.entered != nil {
			select {
			case <-r.entered:
			default:
				close(r.entered)
			}
		}
		<-r.block
	} else if r != nil {
		n := min(r.partial, len(p))
		if n > 0 {
			f.File.WriteAt(p[:n], off)
		}
		return n, r.err
	}
	return f.File.WriteAt(p, off)
}

func (f *faultFile) Truncate(size int64) error {
	if r := f.fs.match("truncate", f.name); r != nil {
		return r.err
	}
	return f.File.Truncate(size)
}

func (f *faultFile) Sync() error {
	if r := f.fs.match("sync", f.name); r != nil {
		return r.err
	}
	return f.File.Sync()
}
