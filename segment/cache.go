package segment

import (
	"container/list"
	"sync"
)

// Cache is a bounded LRU cache of decoded frames, which any number of logs
// may share (Options.Cache): a broker gives all its partitions one, so the
// memory the tails of the logs take is one budget however many partitions
// there are, and the frames written or read most recently stay. Frames are
// keyed by their segment file object, whose id is unique in the process,
// so logs never see each other's frames. Safe for concurrent use.
type Cache struct {
	fc *frameCache
}

// NewCache returns a cache of at most maxBytes of decoded frames (a
// frame larger than half of it is never cached); maxBytes <= 0 caches
// nothing.
func NewCache(maxBytes int) *Cache {
	return &Cache{fc: newFrameCache(maxBytes)}
}

// Bytes returns how many bytes of frames the cache holds (with a small
// per-frame overhead counted in); 0 for a nil Cache.
func (c *Cache) Bytes() int {
	if c == nil {
		return 0
	}
	c.fc.mu.Lock()
	defer c.fc.mu.Unlock()
	return c.fc.bytes
}

// frameKey names a frame: the segment file object's unique id (a rewritten
// segment gets a new one) and the frame's position in it.
type frameKey struct {
	seg uint64
	pos int64
}

// cachedFrame is a decoded frame. data is immutable once cached: readers get
// sub-slices of it, and eviction only drops the cache's reference, so a slice
// handed out stays valid (the garbage collector keeps it alive).
type cachedFrame struct {
	hdr  frameHeader
	data []byte
}

// frameOverhead is what the cache counts for a frame besides its data.
const frameOverhead = 128

// frameCache is a bounded LRU of decoded frames, safe for concurrent use.
// Frames are found by segment, then position, so that dropping a segment
// touches only its own frames.
type frameCache struct {
	mu    sync.Mutex
	max   int
	bytes int
	ll    *list.List // front = most recent; values are *cacheItem
	segs  map[uint64]map[int64]*list.Element
}

type cacheItem struct {
	key frameKey
	f   *cachedFrame
}

func newFrameCache(maxBytes int) *frameCache {
	return &frameCache{max: maxBytes, ll: list.New(), segs: make(map[uint64]map[int64]*list.Element)}
}

func (c *frameCache) get(k frameKey) *cachedFrame {
	if c.max <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.segs[k.seg][k.pos]
	if !ok {
		return nil
	}
	c.ll.MoveToFront(e)
	return e.Value.(*cacheItem).f
}

// put adds f; frames larger than half the budget are not cached.
func (c *frameCache) put(k frameKey, f *cachedFrame) {
	sz := len(f.data) + frameOverhead
	if c.max <= 0 || sz > c.max/2 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	frames := c.segs[k.seg]
	if e, ok := frames[k.pos]; ok {
		c.ll.MoveToFront(e)
		return
	}
	if frames == nil {
		frames = make(map[int64]*list.Element)
		c.segs[k.seg] = frames
	}
	frames[k.pos] = c.ll.PushFront(&cacheItem{key: k, f: f})
	c.bytes += sz
	for c.bytes > c.max {
		c.remove(c.ll.Back())
	}
}

// remove drops e; c.mu must be held.
func (c *frameCache) remove(e *list.Element) {
	it := e.Value.(*cacheItem)
	c.ll.Remove(e)
	frames := c.segs[it.key.seg]
	delete(frames, it.key.pos)
	if len(frames) == 0 {
		delete(c.segs, it.key.seg)
	}
	c.bytes -= len(it.f.data) + frameOverhead
}

// dropSegment forgets every frame of segment id (deleted, replaced, or its
// log closed).
func (c *frameCache) dropSegment(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.segs[id] {
		c.remove(e)
	}
}
