package segment

import (
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// memFS is an in-memory FS that models what survives a crash: a file's data
// up to its last Sync, and a directory's entries as of its last SyncDir. The
// crash image may also keep a random prefix of data written after the last
// Sync (a torn write). Open handles keep their node across rename and
// remove, as on Linux.
type memFS struct {
	mu      sync.Mutex
	files   map[string]*memNode // the live namespace
	durable map[string]*memNode // the namespace as of the last SyncDir of each directory
	dirs    map[string]bool
}

type memNode struct {
	mu      sync.Mutex
	data    []byte
	synced  []byte
	modTime time.Time
}

func newMemFS() *memFS {
	return &memFS{files: map[string]*memNode{}, durable: map[string]*memNode{}, dirs: map[string]bool{"/": true}}
}

var _ FS = (*memFS)(nil)

func (m *memFS) Create(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = filepath.Clean(name)
	if !m.dirs[filepath.Dir(name)] {
		return nil, &os.PathError{Op: "create", Path: name, Err: fs.ErrNotExist}
	}
	n := &memNode{}
	m.files[name] = n
	return &memFile{n: n, name: name}, nil
}

func (m *memFS) open(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.files[filepath.Clean(name)]
	if !ok {
		return nil, &os.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &memFile{n: n, name: name}, nil
}

func (m *memFS) Open(name string) (File, error)          { return m.open(name) }
func (m *memFS) OpenReadWrite(name string) (File, error) { return m.open(name) }

func (m *memFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = filepath.Clean(name)
	if _, ok := m.files[name]; ok {
		delete(m.files, name)
		return nil
	}
	if m.dirs[name] {
		for p := range m.files {
			if filepath.Dir(p) == name {
				return &os.PathError{Op: "remove", Path: name, Err: fs.ErrExist}
			}
		}
		delete(m.dirs, name)
		return nil
	}
	return &os.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
}

func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

func (m *memFS) RemoveAll(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = filepath.Clean(name)
	for p := range m.files {
		if under(p, name) {
			delete(m.files, p)
		}
	}
	for d := range m.dirs {
		if under(d, name) {
			delete(m.dirs, d)
		}
	}
	return nil
}

func (m *memFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	oldname, newname = filepath.Clean(oldname), filepath.Clean(newname)
	if n, ok := m.files[oldname]; ok {
		m.files[newname] = n
		delete(m.files, oldname)
		return nil
	}
	if m.dirs[oldname] {
		// Directory renames (Restore) are taken as durable at once.
		for _, ns := range []map[string]*memNode{m.files, m.durable} {
			for p, n := range ns {
				if under(p, oldname) {
					delete(ns, p)
					ns[newname+strings.TrimPrefix(p, oldname)] = n
				}
			}
		}
		for d := range m.dirs {
			if under(d, oldname) {
				delete(m.dirs, d)
				m.dirs[newname+strings.TrimPrefix(d, oldname)] = true
			}
		}
		return nil
	}
	return &os.PathError{Op: "rename", Path: oldname, Err: fs.ErrNotExist}
}

func (m *memFS) MkdirAll(dir string, _ os.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for d := filepath.Clean(dir); d != "/" && d != "."; d = filepath.Dir(d) {
		m.dirs[d] = true
	}
	return nil
}

func (m *memFS) List(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir = filepath.Clean(dir)
	if !m.dirs[dir] {
		return nil, &os.PathError{Op: "readdir", Path: dir, Err: fs.ErrNotExist}
	}
	var names []string
	for p := range m.files {
		if filepath.Dir(p) == dir {
			names = append(names, filepath.Base(p))
		}
	}
	for d := range m.dirs {
		if filepath.Dir(d) == dir && d != dir {
			names = append(names, filepath.Base(d))
		}
	}
	slices.Sort(names)
	return names, nil
}

func (m *memFS) Stat(name string) (os.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = filepath.Clean(name)
	if n, ok := m.files[name]; ok {
		n.mu.Lock()
		defer n.mu.Unlock()
		return memInfo{name: filepath.Base(name), size: int64(len(n.data))}, nil
	}
	if m.dirs[name] {
		return memInfo{name: filepath.Base(name), dir: true}, nil
	}
	return nil, &os.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
}

func (m *memFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir = filepath.Clean(dir)
	for p := range m.durable {
		if filepath.Dir(p) == dir {
			delete(m.durable, p)
		}
	}
	for p, n := range m.files {
		if filepath.Dir(p) == dir {
			m.durable[p] = n
		}
	}
	return nil
}

// crash returns the file system a machine would find after a power loss
// now: durable entries, synced data, plus (if rng is not nil) a random
// prefix of what was appended after the last Sync.
func (m *memFS) crash(rng *rand.Rand) *memFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := newMemFS()
	for d := range m.dirs {
		c.dirs[d] = true
	}
	for p, n := range m.durable {
		n.mu.Lock()
		data := slices.Clone(n.synced)
		if rng != nil && len(n.data) > len(n.synced) && string(n.data[:len(n.synced)]) == string(n.synced) {
			data = slices.Clone(n.data[:len(n.synced)+rng.IntN(len(n.data)-len(n.synced)+1)])
		}
		n.mu.Unlock()
		nn := &memNode{data: data, synced: slices.Clone(data)}
		c.files[p], c.durable[p] = nn, nn
	}
	return c
}

type memFile struct {
	n    *memNode
	name string
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	if end := off + int64(len(p)); end > int64(len(f.n.data)) {
		f.n.data = append(f.n.data, make([]byte, end-int64(len(f.n.data)))...)
	}
	copy(f.n.data[off:], p)
	return len(p), nil
}

func (f *memFile) Close() error { return nil }

func (f *memFile) Sync() error {
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	f.n.synced = slices.Clone(f.n.data)
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	if size <= int64(len(f.n.data)) {
		f.n.data = f.n.data[:size:size]
	} else {
		f.n.data = append(f.n.data, make([]byte, size-int64(len(f.n.data)))...)
	}
	return nil
}

func (f *memFile) Stat() (os.FileInfo, error) {
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	return memInfo{name: filepath.Base(f.name), size: int64(len(f.n.data))}, nil
}

type memInfo struct {
	name string
	size int64
	dir  bool
}

func (i memInfo) Name() string { return i.name }
func (i memInfo) Size() int64  { return i.size }
func (i memInfo) Mode() os.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return i.dir }
func (i memInfo) Sys() any           { return nil }
