package segment

import (
	"container/list"
	"sync"
)

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

// frameCache is a bounded LRU of decoded frames, safe for concurrent use.
type frameCache struct {
	mu    sync.Mutex
	max   int
	bytes int
	ll    *list.List // front = most recent; values are *cacheItem
	m     map[frameKey]*list.Element
}

type cacheItem struct {
	key frameKey
	f   *cachedFrame
}

func newFrameCache(maxBytes int) *frameCache {
	return &frameCache{max: maxBytes, ll: list.New(), m: make(map[frameKey]*list.Element)}
}

func (c *frameCache) get(k frameKey) *cachedFrame {
	if c.max <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return nil
	}
	c.ll.MoveToFront(e)
	return e.Value.(*cacheItem).f
}

// put adds f; frames larger than half the budget are not cached.
func (c *frameCache) put(k frameKey, f *cachedFrame) {
	sz := len(f.data) + 128
	if c.max <= 0 || sz > c.max/2 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[k]; ok {
		c.ll.MoveToFront(e)
		return
	}
	c.m[k] = c.ll.PushFront(&cacheItem{key: k, f: f})
	c.bytes += sz
	for c.bytes > c.max {
		e := c.ll.Back()
		it := e.Value.(*cacheItem)
		c.ll.Remove(e)
		delete(c.m, it.key)
		c.bytes -= len(it.f.data) + 128
	}
}

// dropSegment forgets every frame of segment id (deleted or replaced).
func (c *frameCache) dropSegment(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.ll.Front(); e != nil; {
		next := e.Next()
		if it := e.Value.(*cacheItem); it.key.seg == id {
			c.ll.Remove(e)
			delete(c.m, it.key)
			c.bytes -= len(it.f.data) + 128
		}
		e = next
	}
}
