package shards

import (
	"fmt"
	"log/slog"
	"maps"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/lni/dragonboat/v4/config"
	"github.com/lni/dragonboat/v4/raftio"
)

// MetaShardID is the fixed Raft shard id of __meta. Partition shard ids are
// allocated by __meta from FirstPartitionShardID upwards and never reused.
const (
	MetaShardID           uint64 = 1
	FirstPartitionShardID uint64 = 100
)

// ReplicaGenerationBase separates a replica's generation from its broker id:
// replica id = generation*ReplicaGenerationBase + broker id. A replica that is
// removed and added back gets a new generation, because dragonboat refuses a
// removed (shard, replica) forever.
const ReplicaGenerationBase = 1000

// BrokerOf returns the broker id that hosts replicaID.
func BrokerOf(replicaID uint64) uint64 { return replicaID % ReplicaGenerationBase }

// NodeHostID returns the fixed dragonboat NodeHostID (a UUID string) of broker
// nodeID. It is derived from the id alone, so every broker computes every
// other broker's NodeHostID without talking to it.
func NodeHostID(nodeID uint64) string {
	return fmt.Sprintf("c4a0b1d2-0000-4000-8000-%012x", nodeID)
}

// CanonicalAddr returns addr in the one form the registry uses: a lowercase
// host and a numeric port, so one target is never spelled two ways.
func CanonicalAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("raft address %q: %w", addr, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return "", fmt.Errorf("raft address %q: bad port", addr)
	}
	if host == "" {
		return "", fmt.Errorf("raft address %q: empty host", addr)
	}
	return net.JoinHostPort(strings.ToLower(host), strconv.FormatUint(p, 10)), nil
}

// Registry is chronik's dragonboat node registry: it resolves any
// (shard, replica) to the Raft address of broker BrokerOf(replica) from a
// table of brokers, filled from the configured peers before the NodeHost
// starts and changed only by __meta's broker table (Set and Delete, called
// when a broker added to or removed from a running cluster is applied), so
// replicas started later, or joined with an empty member map, resolve every
// peer from their first message. A target that is not in the table is
// logged once, counted in UnknownTargets and reported to dragonboat as an
// error (it drops the message and Raft retries). Safe for concurrent use;
// Resolve takes no lock.
type Registry struct {
	// targets is broker id -> its Raft address and connection keys. The
	// map is never changed once stored: Set, Delete and Reconnect store a
	// changed copy.
	targets        atomic.Pointer[map[uint64]target]
	wmu            sync.Mutex // serialises Set, Delete and Reconnect
	streams        uint64
	log            *slog.Logger
	unknown        atomic.Uint64
	mu             sync.Mutex
	loggedUnknowns map[[2]uint64]bool
}

// target is one broker's entry: its canonical Raft address, how many times
// its connections were abandoned (Reconnect), and the transport connection
// key of each of the streams to it, built once so that Resolve does not
// allocate.
type target struct {
	addr string
	gen  uint64
	keys []string
}

// newTarget builds the entry of addr at generation gen for streams
// connections per peer.
func newTarget(addr string, gen, streams uint64) target {
	t := target{addr: addr, gen: gen, keys: make([]string, max(streams, 1))}
	for i := range t.keys {
		k := addr
		if streams > 1 {
			k = fmt.Sprintf("%s-%d", addr, i)
		}
		if gen > 0 {
			k = fmt.Sprintf("%s~%d", k, gen)
		}
		t.keys[i] = k
	}
	return t
}

// NewRegistry builds a registry over peers (broker id -> Raft address).
func NewRegistry(peers map[uint64]string, logger *slog.Logger) (*Registry, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Registry{log: logger, loggedUnknowns: map[[2]uint64]bool{}}
	targets := make(map[uint64]target, len(peers))
	for id, a := range peers {
		if id == 0 || id >= ReplicaGenerationBase {
			return nil, fmt.Errorf("peer id %d: must be in [1, %d)", id, ReplicaGenerationBase)
		}
		c, err := CanonicalAddr(a)
		if err != nil {
			return nil, fmt.Errorf("peer %d: %w", id, err)
		}
		targets[id] = newTarget(c, 0, 0)
	}
	r.targets.Store(&targets)
	return r, nil
}

// Set records broker id's Raft address (a broker added to the cluster, or
// one whose address __meta records). It reports whether the table changed.
func (r *Registry) Set(id uint64, addr string) (bool, error) {
	if id == 0 || id >= ReplicaGenerationBase {
		return false, fmt.Errorf("broker id %d: must be in [1, %d)", id, ReplicaGenerationBase)
	}
	c, err := CanonicalAddr(addr)
	if err != nil {
		return false, fmt.Errorf("broker %d: %w", id, err)
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	cur := *r.targets.Load()
	gen := uint64(0)
	if old, ok := cur[id]; ok && old.addr == c {
		return false, nil
	} else if ok {
		r.log.Warn("raft registry: broker address changed", "broker", id, "from", old.addr, "to", c)
		gen = old.gen + 1
	}
	next := maps.Clone(cur)
	next[id] = newTarget(c, gen, r.streams)
	r.targets.Store(&next)
	return true, nil
}

// Delete drops broker id (removed from the cluster) from the table. It
// reports whether the table changed.
func (r *Registry) Delete(id uint64) bool {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	cur := *r.targets.Load()
	if _, ok := cur[id]; !ok {
		return false
	}
	next := maps.Clone(cur)
	delete(next, id)
	r.targets.Store(&next)
	return true
}

// Reconnect makes the transport open fresh connections to the broker at
// Raft address addr for the messages sent from now on, and reports whether
// addr is a broker's. It is called when a connection to addr failed: the
// broker died or restarted, or the network between dropped, and its other
// connections, idle since, are most likely dead too. dragonboat finds a
// dead connection only by writing to it, loses that message, and then
// refuses every message to the peer for up to a second; after a peer's
// restart that message is often a vote, and the election waits another
// timeout. The abandoned connections close when they idle out.
func (r *Registry) Reconnect(addr string) bool {
	c, err := CanonicalAddr(addr)
	if err != nil {
		return false
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	cur := *r.targets.Load()
	for id, t := range cur {
		if t.addr == c {
			next := maps.Clone(cur)
			next[id] = newTarget(c, t.gen+1, r.streams)
			r.targets.Store(&next)
			return true
		}
	}
	return false
}

// Brokers returns a copy of the table: broker id -> Raft address.
func (r *Registry) Brokers() map[uint64]string {
	cur := *r.targets.Load()
	m := make(map[uint64]string, len(cur))
	for id, t := range cur {
		m[id] = t.addr
	}
	return m
}

// UnknownTargets counts Resolve calls for a (shard, replica) whose broker is
// not in the table.
func (r *Registry) UnknownTargets() uint64 { return r.unknown.Load() }

// Addr returns broker id's Raft address.
func (r *Registry) Addr(id uint64) (string, bool) {
	t, ok := (*r.targets.Load())[id]
	return t.addr, ok
}

// Create implements config.NodeRegistryFactory. The same table serves the
// NodeHost's transport.
func (r *Registry) Create(nhid string, streamConnections uint64, _ config.TargetValidator) (raftio.INodeRegistry, error) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.streams = streamConnections
	cur := *r.targets.Load()
	next := make(map[uint64]target, len(cur))
	for id, t := range cur {
		next[id] = newTarget(t.addr, t.gen, r.streams)
	}
	r.targets.Store(&next)
	return r, nil
}

// Close implements raftio.INodeRegistry.
func (r *Registry) Close() error { return nil }

// Add implements raftio.INodeRegistry. The table is per broker: the NodeHostID
// dragonboat passes must be the one derived from the replica's broker; any
// other value is logged (the table still wins).
func (r *Registry) Add(shardID, replicaID uint64, target string) {
	if target != NodeHostID(BrokerOf(replicaID)) {
		r.log.Warn("raft registry: unexpected target for replica", "shard", shardID, "replica", replicaID, "target", target)
	}
}

// Remove implements raftio.INodeRegistry (no-op: the table is per broker,
// not per replica, and changes only through Set and Delete).
func (r *Registry) Remove(shardID, replicaID uint64) {}

// RemoveShard implements raftio.INodeRegistry (no-op, as Remove).
func (r *Registry) RemoveShard(shardID uint64) {}

// ErrUnknownTarget is returned by Resolve for a replica whose broker is not
// in the table (neither a configured peer nor a broker __meta added).
var ErrUnknownTarget = fmt.Errorf("chronik: raft target not in the registry")

// Resolve implements raftio.INodeRegistry: (shard, replica) -> (address,
// connection key).
func (r *Registry) Resolve(shardID, replicaID uint64) (string, string, error) {
	t, ok := (*r.targets.Load())[BrokerOf(replicaID)]
	if !ok {
		r.unknown.Add(1)
		key := [2]uint64{shardID, replicaID}
		r.mu.Lock()
		first := !r.loggedUnknowns[key]
		r.loggedUnknowns[key] = true
		r.mu.Unlock()
		if first {
			r.log.Error("raft registry: unknown target", "shard", shardID, "replica", replicaID)
		}
		return "", "", fmt.Errorf("shard %d replica %d: %w", shardID, replicaID, ErrUnknownTarget)
	}
	return t.addr, t.keys[shardID%uint64(len(t.keys))], nil
}

// Members returns the initial member map (replica id -> NodeHostID) of a
// shard whose replicas are on brokers.
func Members(replicas []uint64) map[uint64]string {
	m := make(map[uint64]string, len(replicas))
	for _, id := range replicas {
		m[id] = NodeHostID(BrokerOf(id))
	}
	return m
}
