package kafka

// A broker-wide budget of request bytes (queued.max.request.bytes): a
// connection takes a frame's declared size from it before buffering the
// frame, and gives it back once the response is written. When the budget is
// spent, connections stop reading requests until bytes come back
// (backpressure, as Kafka's memory pool), so memory held by requests stays
// bounded however many clients send large frames slowly.

import (
	"container/list"
	"errors"
	"sync"
)

// byteSem is a weighted semaphore of bytes. Waiters are served in arrival
// order: a large request is not starved by a stream of small ones. Safe for
// concurrent use.
type byteSem struct {
	size int64

	mu      sync.Mutex
	used    int64
	waiters list.List // of *semWaiter
}

type semWaiter struct {
	n     int64
	ready chan struct{} // closed once the bytes are granted
}

func newByteSem(size int64) *byteSem { return &byteSem{size: size} }

// errSemStopped: an acquire was given up because its stop channel closed.
var errSemStopped = errors.New("kafka: stopped waiting for request bytes")

// acquire takes n bytes (n <= size), waiting until they are free or stop is
// closed; then it returns errSemStopped and holds nothing.
func (s *byteSem) acquire(stop <-chan struct{}, n int64) error {
	s.mu.Lock()
	if s.waiters.Len() == 0 && s.used+n <= s.size {
		s.used += n
		s.mu.Unlock()
		return nil
	}
	w := &semWaiter{n: n, ready: make(chan struct{})}
	e := s.waiters.PushBack(w)
	s.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-stop:
		s.mu.Lock()
		select {
		case <-w.ready:
			// Granted meanwhile: give the bytes back.
			s.used -= n
		default:
			front := s.waiters.Front() == e
			s.waiters.Remove(e)
			if !front {
				s.mu.Unlock()
				return errSemStopped
			}
			// The next waiters may fit now that this one no longer heads
			// the queue.
		}
		s.grantLocked()
		s.mu.Unlock()
		return errSemStopped
	}
}

// release gives back n bytes taken by acquire.
func (s *byteSem) release(n int64) {
	if n == 0 {
		return
	}
	s.mu.Lock()
	s.used -= n
	if s.used < 0 {
		s.mu.Unlock()
		panic("kafka: byteSem released more than acquired")
	}
	s.grantLocked()
	s.mu.Unlock()
}

// grantLocked wakes the waiters at the head of the queue that fit.
func (s *byteSem) grantLocked() {
	for {
		e := s.waiters.Front()
		if e == nil {
			return
		}
		w := e.Value.(*semWaiter)
		if s.used+w.n > s.size {
			return
		}
		s.used += w.n
		s.waiters.Remove(e)
		close(w.ready)
	}
}

// inUse returns the bytes held and the number of waiters.
func (s *byteSem) inUse() (bytes int64, waiting int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used, s.waiters.Len()
}
