package kafka

import (
	"testing"
	"time"
)

func TestByteSem(t *testing.T) {
	s := newByteSem(10)
	var ctx chan struct{} // never closed
	if err := s.acquire(ctx, 6); err != nil {
		t.Fatal(err)
	}
	// 6 + 6 > 10: waits, and a smaller later waiter queues behind it.
	big := make(chan error, 1)
	go func() { big <- s.acquire(ctx, 6) }()
	waitFor(t, func() bool { _, w := s.inUse(); return w == 1 })
	small := make(chan error, 1)
	go func() { small <- s.acquire(ctx, 1) }()
	waitFor(t, func() bool { _, w := s.inUse(); return w == 2 })

	// A cancelled waiter holds nothing and leaves the queue.
	stop := make(chan struct{})
	time.AfterFunc(10*time.Millisecond, func() { close(stop) })
	if err := s.acquire(stop, 4); err == nil {
		t.Fatal("acquire past the size did not wait")
	}
	if used, w := s.inUse(); used != 6 || w != 2 {
		t.Fatalf("in use %d with %d waiters, want 6 with 2", used, w)
	}

	s.release(6)
	if err := <-big; err != nil {
		t.Fatal(err)
	}
	if err := <-small; err != nil {
		t.Fatal(err)
	}
	if used, w := s.inUse(); used != 7 || w != 0 {
		t.Fatalf("in use %d with %d waiters, want 7 with 0", used, w)
	}
	s.release(6)
	s.release(1)
	if used, _ := s.inUse(); used != 0 {
		t.Fatalf("in use %d after releasing everything", used)
	}
}

// Removing the head waiter lets the ones behind it through.
func TestByteSemCancelHead(t *testing.T) {
	s := newByteSem(10)
	var ctx chan struct{} // never closed
	s.acquire(ctx, 5)
	hctx := make(chan struct{})
	head := make(chan error, 1)
	go func() { head <- s.acquire(hctx, 10) }()
	waitFor(t, func() bool { _, w := s.inUse(); return w == 1 })
	next := make(chan error, 1)
	go func() { next <- s.acquire(ctx, 5) }()
	waitFor(t, func() bool { _, w := s.inUse(); return w == 2 })
	close(hctx)
	if err := <-head; err == nil {
		t.Fatal("cancelled acquire succeeded")
	}
	if err := <-next; err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
