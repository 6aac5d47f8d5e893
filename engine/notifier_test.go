package engine

import "testing"

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestNotifier: a watcher wakes only once the high watermark passes the
// value it watched, not on every move.
func TestNotifier(t *testing.T) {
	n := newNotifier()
	n.update(10)
	if !isClosed(n.watch(9)) {
		t.Fatal("watch below the high watermark must be closed at once")
	}
	w10, w20, w20b := n.watch(10), n.watch(20), n.watch(20)
	if isClosed(w10) || isClosed(w20) {
		t.Fatal("watch at or above the high watermark closed early")
	}
	if w20 != w20b {
		t.Fatal("waiters on one value should share a channel")
	}
	n.update(15)
	if !isClosed(w10) || isClosed(w20) {
		t.Fatalf("after 15: w10 closed %v (want true), w20 closed %v (want false)", isClosed(w10), isClosed(w20))
	}
	n.update(21)
	if !isClosed(w20) {
		t.Fatal("w20 not woken at 21")
	}
	w30 := n.watch(30)
	n.close()
	if !isClosed(w30) || !isClosed(n.watch(100)) {
		t.Fatal("close must wake every waiter")
	}
	n.update(200) // no panic after close
}
