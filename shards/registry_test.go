package shards

import (
	"errors"
	"testing"
)

func TestRegistryResolve(t *testing.T) {
	r, err := NewRegistry(map[uint64]string{1: "LocalHost:7001", 2: "127.0.0.1:7002"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		shard, replica uint64
		want           string
		unknown        bool
	}{
		{MetaShardID, 1, "localhost:7001", false},
		{100, 2, "127.0.0.1:7002", false},
		{12345, 2002, "127.0.0.1:7002", false}, // a later generation of broker 2
		{100, 3, "", true},
		{100, 3, "", true}, // counted again, logged once
	}
	for _, tt := range tests {
		addr, key, err := r.Resolve(tt.shard, tt.replica)
		if tt.unknown {
			if !errors.Is(err, ErrUnknownTarget) {
				t.Fatalf("resolve(%d,%d): %v, want ErrUnknownTarget", tt.shard, tt.replica, err)
			}
			continue
		}
		if err != nil || addr != tt.want || key != tt.want {
			t.Fatalf("resolve(%d,%d) = %q %q %v, want %q", tt.shard, tt.replica, addr, key, err, tt.want)
		}
	}
	if n := r.UnknownTargets(); n != 2 {
		t.Fatalf("unknown targets %d, want 2", n)
	}
	if _, err := NewRegistry(map[uint64]string{1000: "h:1"}, nil); err == nil {
		t.Fatal("broker id 1000 accepted")
	}
	if _, err := NewRegistry(map[uint64]string{1: "nohost"}, nil); err == nil {
		t.Fatal("address without port accepted")
	}
}

// Reconnect gives a broker's connections new keys, so the transport dials
// afresh instead of writing to connections that died with the one that
// failed; the address, and other brokers' keys, stay as they were.
func TestRegistryReconnect(t *testing.T) {
	r, err := NewRegistry(map[uint64]string{1: "127.0.0.1:7001", 2: "127.0.0.1:7002"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Create(NodeHostID(1), 4, nil); err != nil {
		t.Fatal(err)
	}
	key := func(shard, replica uint64) string {
		t.Helper()
		addr, k, err := r.Resolve(shard, replica)
		if err != nil || addr != (map[uint64]string{1: "127.0.0.1:7001", 2: "127.0.0.1:7002"})[BrokerOf(replica)] {
			t.Fatalf("resolve(%d,%d) = %q %q %v", shard, replica, addr, k, err)
		}
		return k
	}
	before := map[uint64]string{}
	for shard := uint64(100); shard < 104; shard++ {
		before[shard] = key(shard, 2)
	}
	if len(map[string]bool{before[100]: true, before[101]: true, before[102]: true, before[103]: true}) != 4 {
		t.Fatalf("4 streams should have 4 keys: %v", before)
	}
	other := key(100, 1)
	if !r.Reconnect("127.0.0.1:7002") {
		t.Fatal("Reconnect of a known address reported false")
	}
	for shard, old := range before {
		if k := key(shard, 2); k == old {
			t.Fatalf("shard %d: key %q unchanged after Reconnect", shard, k)
		}
	}
	if k := key(100, 1); k != other {
		t.Fatalf("broker 1's key changed from %q to %q", other, k)
	}
	if r.Reconnect("127.0.0.1:9999") {
		t.Fatal("Reconnect of an unknown address reported true")
	}
}

func TestNodeHostIDIsStableAndDistinct(t *testing.T) {
	if NodeHostID(7) != NodeHostID(7) || NodeHostID(7) == NodeHostID(8) {
		t.Fatal("NodeHostID must be a pure, injective function of the broker id")
	}
	if got := BrokerOf(3 * ReplicaGenerationBase / 1000 * 1000 * 2); got != 0 {
		t.Fatalf("BrokerOf(2000) = %d", got)
	}
	if BrokerOf(1003) != 3 {
		t.Fatal("BrokerOf(1003) != 3")
	}
}

// Brokers added to and removed from a running cluster change the table:
// Set adds (or moves) a broker, Delete drops it, and Resolve follows.
func TestRegistrySetDelete(t *testing.T) {
	r, err := NewRegistry(map[uint64]string{1: "127.0.0.1:7001"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Resolve(200, 1004); !errors.Is(err, ErrUnknownTarget) {
		t.Fatalf("broker 4 before it was added: %v", err)
	}
	if changed, err := r.Set(4, "LOCALHOST:7004"); err != nil || !changed {
		t.Fatalf("set 4: %v %v", changed, err)
	}
	if changed, err := r.Set(4, "localhost:7004"); err != nil || changed {
		t.Fatalf("set 4 again (same canonical address): changed %v, %v", changed, err)
	}
	if a, _, err := r.Resolve(200, 1004); err != nil || a != "localhost:7004" {
		t.Fatalf("resolve broker 4: %q %v", a, err)
	}
	if _, err := r.Set(1000, "h:1"); err == nil {
		t.Fatal("broker id 1000 accepted")
	}
	if _, err := r.Set(5, "nohost"); err == nil {
		t.Fatal("address without port accepted")
	}
	if !r.Delete(4) || r.Delete(4) {
		t.Fatal("delete 4: want true once, then false")
	}
	if _, _, err := r.Resolve(200, 4); !errors.Is(err, ErrUnknownTarget) {
		t.Fatalf("broker 4 after it was removed: %v", err)
	}
	if got := r.Brokers(); len(got) != 1 || got[1] != "127.0.0.1:7001" {
		t.Fatalf("brokers %v", got)
	}
}
