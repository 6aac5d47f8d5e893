package engine

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// A failed connection only makes a peer suspect: it is down when a dial to
// its Raft port fails too, and up again once one succeeds or a connection
// to it is established. A late failure of a connection to a peer that
// answers (its old process's connection) leaves it up.
func TestPeerLinks(t *testing.T) {
	l := newPeerLinks(map[uint64]string{1: "127.0.0.1:7001", 2: "127.0.0.1:7002", 3: "LOCALHOST:7003"})
	var answers atomic.Bool // whether broker 2's port accepts
	l.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == "127.0.0.1:7002" && answers.Load() {
			c1, c2 := net.Pipe()
			c2.Close()
			return c1, nil
		}
		return nil, errors.New("connection refused")
	}
	stop := make(chan struct{})
	defer close(stop)
	go l.probeLoop(stop)
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: unreachable %v", what, l.unreachable())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	l.set("127.0.0.1:7002", false) // broker 2 crashed: its port refuses
	waitFor("a failed connection to a dead peer", func() bool { return !l.reachable(2) })
	if got := l.inSync([]uint64{1, 2, 3}, 1); !slices.Equal(got, []uint64{1, 3}) {
		t.Errorf("in sync %v, want [1 3]", got)
	}
	answers.Store(true) // it restarted: the next round's dial gets through
	waitFor("a restarted peer", func() bool { return l.reachable(2) })

	l.set("127.0.0.1:7002", false) // an old connection fails late
	time.Sleep(100 * time.Millisecond)
	if !l.reachable(2) {
		t.Error("a peer whose port answers was marked down by a stale connection failure")
	}

	l.set("localhost:7003", false) // addresses compare in canonical form
	waitFor("broker 3 by another spelling", func() bool { return !l.reachable(3) })
	l.set("localhost:7003", true)
	if !l.reachable(3) {
		t.Error("an established connection did not bring broker 3 back")
	}
	l.set("10.0.0.9:7009", false) // not a peer: ignored
	if got := l.unreachable(); len(got) != 0 {
		t.Errorf("unreachable %v, want none", got)
	}
}

// A replica cut off from a majority of its partition's replicas stops
// waiting for Raft to answer: quorumUnreachable counts this broker and the
// brokers its transport reaches, and a down broker wakes watch's waiters.
func TestQuorumUnreachable(t *testing.T) {
	e := &Engine{cfg: Config{NodeID: 1}}
	tests := []struct {
		name     string
		down     []uint64
		replicas []uint64
		want     bool
	}{
		{"all up", nil, []uint64{1, 2, 3}, false},
		{"one peer down", []uint64{2}, []uint64{1, 2, 3}, false},
		{"both peers down", []uint64{2, 3}, []uint64{1, 2, 3}, true},
		{"later generations count by broker", []uint64{2, 3}, []uint64{1001, 2002, 3}, true},
		{"alone", []uint64{2, 3}, []uint64{1}, false},
		{"two replicas, peer down", []uint64{2}, []uint64{1, 2}, true},
		{"no replica here, one of three down", []uint64{2}, []uint64{2, 3, 4}, false},
		{"no replica here, two of three down", []uint64{2, 3}, []uint64{2, 3, 4}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.links = newPeerLinks(map[uint64]string{1: "127.0.0.1:7001", 2: "127.0.0.1:7002", 3: "127.0.0.1:7003", 4: "127.0.0.1:7004"})
			e.links.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
				return nil, errors.New("connection refused")
			}
			for _, b := range tt.down {
				changed := e.links.watch()
				e.links.probe(context.Background(), b)
				select {
				case <-changed:
				default:
					t.Fatalf("broker %d went down without waking watchers", b)
				}
			}
			if got := e.quorumUnreachable(tt.replicas); got != tt.want {
				t.Fatalf("quorumUnreachable(%v) with %v down = %v, want %v", tt.replicas, tt.down, got, tt.want)
			}
		})
	}
}
