package engine

import (
	"context"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lni/dragonboat/v4/raftio"

	"github.com/chronik-io/chronik/shards"
)

// Which peers this broker's Raft transport reaches, and what dragonboat's
// snapshot machinery did, from its system events. A follower whose broker
// cannot be reached is out of sync: Metadata leaves it out of the ISR and
// the broker counts the partitions it leads with such a follower as under
// replicated.
//
// dragonboat keeps several connections per peer (its StreamConnections) and
// reports each one's failures and re-connections, so a write failing late
// on a connection to a peer's previous process can follow the connection to
// its new one. A failure therefore only makes the peer suspect: a prober
// dials the peer's Raft port, and the peer is down only when that fails.
// Down peers are dialled again every probeInterval until they answer.

// probeInterval is how often down peers are dialled; probeTimeout bounds
// one dial.
const (
	probeInterval = time.Second
	probeTimeout  = 300 * time.Millisecond
)

// peerLinks is the state of this broker's Raft connections to its peers.
type peerLinks struct {
	// suspects receives brokers to dial now (a connection to them failed).
	suspects chan uint64
	// dial connects to a Raft address (net.Dialer's DialContext; tests
	// replace it).
	dial func(ctx context.Context, network, addr string) (net.Conn, error)

	mu     sync.Mutex
	byAddr map[string]uint64    // canonical Raft address -> broker id
	addrOf map[uint64]string    // the reverse (setPeer, dropPeer)
	down   map[uint64]time.Time // broker -> since when a dial to it fails (absent: up)
	// upSince is when each broker last came back up (or this engine
	// started): the leader balancer waits before handing leadership to a
	// broker that has just returned.
	upSince map[uint64]time.Time
	// changed is closed, and replaced, whenever a broker goes down or comes
	// back up: produce waits look again then.
	changed chan struct{}
}

func newPeerLinks(peers map[uint64]string) *peerLinks {
	l := &peerLinks{byAddr: map[string]uint64{}, addrOf: map[uint64]string{}, down: map[uint64]time.Time{},
		upSince: map[uint64]time.Time{}, suspects: make(chan uint64, 64), dial: (&net.Dialer{}).DialContext,
		changed: make(chan struct{})}
	now := time.Now()
	for id, a := range peers {
		if c, err := shards.CanonicalAddr(a); err == nil {
			l.byAddr[c] = id
			l.addrOf[id] = c
			l.upSince[id] = now
		}
	}
	return l
}

// setPeer records broker id's Raft address (a broker added to the
// cluster); a new peer counts as up from now until a dial fails.
func (l *peerLinks) setPeer(id uint64, addr string) {
	c, err := shards.CanonicalAddr(addr)
	if err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, ok := l.addrOf[id]; ok {
		if old == c {
			return
		}
		delete(l.byAddr, old)
	} else {
		l.upSince[id] = time.Now()
	}
	l.byAddr[c] = id
	l.addrOf[id] = c
}

// dropPeer forgets broker id (removed from the cluster).
func (l *peerLinks) dropPeer(id uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.byAddr, l.addrOf[id])
	delete(l.addrOf, id)
	delete(l.down, id)
	delete(l.upSince, id)
}

// set records a connection to the broker at addr established (up) or
// failed (suspect: the prober decides).
func (l *peerLinks) set(addr string, up bool) {
	c, err := shards.CanonicalAddr(addr)
	if err != nil {
		return
	}
	l.mu.Lock()
	id, ok := l.byAddr[c]
	l.mu.Unlock()
	if !ok {
		return
	}
	if up {
		l.heard(id)
		return
	}
	select {
	case l.suspects <- id:
	default: // the prober has a backlog; the next round dials it anyway
	}
}

// probe dials broker id's Raft port and records the outcome.
func (l *peerLinks) probe(ctx context.Context, id uint64) {
	l.mu.Lock()
	addr, known := l.addrOf[id]
	l.mu.Unlock()
	if !known {
		return // removed meanwhile
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	conn, err := l.dial(ctx, "tcp", addr)
	if err == nil {
		conn.Close()
		l.heard(id)
		return
	}
	l.mu.Lock()
	if _, was := l.down[id]; !was && l.addrOf[id] != "" {
		l.down[id] = time.Now()
		l.notifyLocked()
	}
	l.mu.Unlock()
}

// notifyLocked wakes the watchers of a change; l.mu is held.
func (l *peerLinks) notifyLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// watch returns a channel closed at the next change of any broker's link.
func (l *peerLinks) watch() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

// probeLoop dials suspects at once and down peers every probeInterval,
// until stop is closed.
func (l *peerLinks) probeLoop(stop <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-stop; cancel() }()
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case id := <-l.suspects:
			l.probe(ctx, id)
		case <-t.C:
			for _, id := range l.unreachable() {
				l.probe(ctx, id)
			}
		}
	}
}

// heard records that broker id was heard from (a local replica follows
// it as a new leader): it is up, whatever the last connection event from a
// transport whose circuit breaker may still be waiting to dial it said.
func (l *peerLinks) heard(id uint64) {
	l.mu.Lock()
	if _, was := l.down[id]; was {
		delete(l.down, id)
		l.upSince[id] = time.Now()
		l.notifyLocked()
	}
	l.mu.Unlock()
}

// upFor reports whether broker id has been up for at least d (self always
// has).
func (l *peerLinks) upFor(id uint64, d time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, down := l.down[id]; down {
		return false
	}
	since, ok := l.upSince[id]
	return !ok || time.Since(since) >= d
}

// reachable reports whether broker id's link is up (self always is).
func (l *peerLinks) reachable(id uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, down := l.down[id]
	return !down
}

// unreachable returns the brokers whose link is down, in id order.
func (l *peerLinks) unreachable() []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]uint64, 0, len(l.down))
	for id := range l.down {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// inSync returns the replicas (broker ids) this broker sees in sync: on
// this broker, or on a broker its Raft transport reaches.
func (l *peerLinks) inSync(replicas []uint64, self uint64) []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]uint64, 0, len(replicas))
	for _, r := range replicas {
		if _, down := l.down[r]; r == self || !down {
			out = append(out, r)
		}
	}
	return out
}

// quorumUnreachable reports whether this broker's Raft transport reaches
// less than a majority of the replicas (ids) of a partition, counting its
// own: then its replica can neither commit as leader nor learn who leads.
func (e *Engine) quorumUnreachable(replicas []uint64) bool {
	if len(replicas) < 2 {
		return false
	}
	brokers := make([]uint64, len(replicas))
	for i, r := range replicas {
		brokers[i] = shards.BrokerOf(r)
	}
	return 2*len(e.links.inSync(brokers, e.cfg.NodeID)) <= len(replicas)
}

// transferTarget returns the replica (id) of replicas, other than self, to
// hand a leadership to: the first whose broker this broker's Raft transport
// reaches, else the first other one; 0 if there is none. A transfer to a
// dead replica would stop the partition's writes until it timed out.
func (e *Engine) transferTarget(replicas []uint64, self uint64) uint64 {
	var fallback uint64
	for _, r := range replicas {
		if r == self {
			continue
		}
		if e.links.reachable(shards.BrokerOf(r)) {
			return r
		}
		if fallback == 0 {
			fallback = r
		}
	}
	return fallback
}

// RaftStats is what this broker's Raft layer reports of itself since it
// started: snapshot traffic and the peers its transport cannot reach.
type RaftStats struct {
	SnapshotsCreated     uint64 // snapshots taken of local replicas (log compaction)
	SnapshotsSent        uint64 // snapshots streamed to followers behind the log
	SnapshotsSendAborted uint64 // of those, the streams that failed
	SnapshotsReceived    uint64 // snapshots received from leaders
	SnapshotsRecovered   uint64 // local replicas restored from a snapshot
	LogCompactions       uint64 // Raft log prefixes removed after a snapshot
	// UnreachablePeers are the brokers whose Raft connection from this
	// broker last failed, in id order.
	UnreachablePeers []uint64
	// LogDB is what the Raft log store wrote and holds (zero on tan).
	LogDB LogDBStats
}

// LogDBStats are the counters of the pebble store under this broker's Raft
// logs, summed over its shards. Every entry is appended to a write-ahead
// log; an entry still in the Raft log when its memtable fills is flushed to
// an L0 sstable, and compactions may rewrite it again before its deletion
// reaches it: FlushBytes and CompactionBytes against WALBytes say how much
// of the Raft log outlived its memtable.
type LogDBStats struct {
	WALBytes        uint64 // bytes appended to the write-ahead logs
	Flushes         int64  // memtables flushed
	FlushBytes      uint64 // bytes written by flushes
	Compactions     int64  // compactions run
	CompactionBytes uint64 // bytes written by compactions
	L0Files         int64  // L0 sstables now
	L0Sublevels     int32  // L0 sublevels now, of the deepest shard
	DiskBytes       uint64 // disk used now
	// WriteStalls counts the times the store held all Raft log writes of
	// one of its shards back (memtables all flushing, or L0 too deep),
	// and WriteStallTime how long in all: the replicas of that shard step
	// no further meanwhile.
	WriteStalls    uint64
	WriteStallTime time.Duration
}

// RaftStats returns the counters of this broker's Raft layer.
func (e *Engine) RaftStats() RaftStats {
	c := &e.raftEvents
	return RaftStats{
		SnapshotsCreated:     c.created.Load(),
		SnapshotsSent:        c.sent.Load(),
		SnapshotsSendAborted: c.aborted.Load(),
		SnapshotsReceived:    c.received.Load(),
		SnapshotsRecovered:   c.recovered.Load(),
		LogCompactions:       c.compacted.Load(),
		UnreachablePeers:     e.links.unreachable(),
		LogDB:                LogDBStats(e.logdbStores.Stats()),
	}
}

// raftEventCounts counts dragonboat's snapshot events.
type raftEventCounts struct {
	created, sent, aborted, received, recovered, compacted atomic.Uint64
}

// systemListener receives dragonboat's system events; each only counts or
// records, as dragonboat asks of its listeners.
type systemListener Engine

var _ raftio.ISystemEventListener = (*systemListener)(nil)

func (l *systemListener) ConnectionEstablished(i raftio.ConnectionInfo) {
	if !i.SnapshotConnection {
		l.links.set(i.Address, true)
	}
}

// ConnectionFailed also has the transport abandon the peer's other
// connections (shards.Registry.Reconnect): they died with the one that
// failed, and the first message written to each would be lost.
func (l *systemListener) ConnectionFailed(i raftio.ConnectionInfo) {
	if !i.SnapshotConnection {
		l.reg.Reconnect(i.Address)
		l.links.set(i.Address, false)
	}
}

func (l *systemListener) SendSnapshotStarted(raftio.SnapshotInfo) { l.raftEvents.sent.Add(1) }
func (l *systemListener) SendSnapshotAborted(raftio.SnapshotInfo) { l.raftEvents.aborted.Add(1) }
func (l *systemListener) SnapshotReceived(raftio.SnapshotInfo)    { l.raftEvents.received.Add(1) }
func (l *systemListener) SnapshotRecovered(raftio.SnapshotInfo)   { l.raftEvents.recovered.Add(1) }
func (l *systemListener) SnapshotCreated(raftio.SnapshotInfo)     { l.raftEvents.created.Add(1) }
func (l *systemListener) LogCompacted(raftio.EntryInfo)           { l.raftEvents.compacted.Add(1) }

func (l *systemListener) NodeHostShuttingDown()                     {}
func (l *systemListener) NodeUnloaded(raftio.NodeInfo)              {}
func (l *systemListener) NodeDeleted(raftio.NodeInfo)               {}
func (l *systemListener) NodeReady(raftio.NodeInfo)                 {}
func (l *systemListener) MembershipChanged(raftio.NodeInfo)         {}
func (l *systemListener) SendSnapshotCompleted(raftio.SnapshotInfo) {}
func (l *systemListener) SnapshotCompacted(raftio.SnapshotInfo)     {}
func (l *systemListener) LogDBCompacted(raftio.EntryInfo)           {}
