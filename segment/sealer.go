package segment

import (
	"errors"
	"sync"
)

// sealer rewrites sealed segments from the active codec to
// Options.SealedCodec in one background goroutine, through rewriteSegment
// (rewrite.go: "<base>.log.rewrite.tmp", fsync, rename under Log.fileMu,
// index files, swap in the list). A segment that a compaction replaced
// before the sealer reached it is skipped: the compaction wrote it in
// SealedCodec already.
type sealer struct {
	l      *Log
	target Codec
	mu     sync.Mutex
	queue  []*segment
	wake   chan struct{}
	quit   chan struct{}
	done   chan struct{}
	active bool
}

func startSealer(l *Log) *sealer {
	s := &sealer{l: l, target: l.opts.SealedCodec, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	s.active = !l.opts.DisableBackgroundRewrite && l.opts.SealedCodec != l.opts.ActiveCodec
	if !s.active {
		close(s.done)
		return s
	}
	go s.run()
	return s
}

// enqueue schedules a sealed segment for rewriting, if it needs it.
func (s *sealer) enqueue(seg *segment) {
	if !s.active || seg.meta.Rewritten == s.target || seg.meta.Size == 0 {
		return
	}
	seg.acquire()
	s.mu.Lock()
	s.queue = append(s.queue, seg)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *sealer) stop() {
	if !s.active {
		return
	}
	close(s.quit)
	<-s.done
	s.mu.Lock()
	for _, seg := range s.queue {
		seg.release()
	}
	s.queue = nil
	s.mu.Unlock()
}

func (s *sealer) stopping() bool {
	select {
	case <-s.quit:
		return true
	default:
		return false
	}
}

func (s *sealer) run() {
	defer close(s.done)
	for {
		s.mu.Lock()
		var seg *segment
		if len(s.queue) > 0 {
			seg = s.queue[0]
			s.queue = s.queue[1:]
		}
		s.mu.Unlock()
		if seg == nil {
			select {
			case <-s.quit:
				return
			case <-s.wake:
				continue
			}
		}
		if err := s.rewrite(seg); err != nil && !errors.Is(err, errStopping) {
			s.l.log.Error("rewrite sealed segment", "segment", seg.path(logSuffix), "codec", s.target, "err", err)
		}
		seg.release()
		if s.stopping() {
			return
		}
	}
}

var errStopping = errors.New("segment: log closing")

// sealedFrameBytes is the payload size the rewrite merges frames up to. It
// makes the sealed ratio independent of the append size (4 KiB appends of
// JSON-like text seal to the same ratio as 64 KiB ones, see the package doc)
// while a read of one offset decompresses at most this much.
const sealedFrameBytes = 256 << 10

// rewrite rewrites old to the target codec and swaps it in.
func (s *sealer) rewrite(old *segment) error {
	s.l.rewriteMu.Lock()
	defer s.l.rewriteMu.Unlock()
	_, err := s.l.rewriteSegment(old, rewriteCodec, s.target, s.stopping, nil)
	return err
}
