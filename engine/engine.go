package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lni/dragonboat/v4"
	"github.com/lni/dragonboat/v4/config"
	"github.com/lni/dragonboat/v4/raftio"
	sm "github.com/lni/dragonboat/v4/statemachine"

	"github.com/chronik-io/chronik/internal/raftconf"
	"github.com/chronik-io/chronik/segment"
	"github.com/chronik-io/chronik/shards"
)

// Engine is one broker's embedded, replicated log. Safe for concurrent use.
type Engine struct {
	cfg   Config
	log   *slog.Logger
	nh    *dragonboat.NodeHost
	reg   *shards.Registry
	meta  *shards.MetaSM
	logdb string

	links         *peerLinks               // which peers the Raft transport reaches (peerlinks.go)
	progress      followerProgress         // what followers acknowledged (progress.go)
	raftEvents    raftEventCounts          // dragonboat's snapshot events
	logdbStores   *raftconf.LogDBStores    // the pebble LogDB's stores, for RaftStats
	segCache      *segment.Cache           // decoded frames of every local partition's log
	corruptFrames atomic.Uint64            // damaged frames (or missing segments) found by reads, rewrites or segment.Check
	disk          *diskGuard               // refuses produce while the data dir's disk is nearly full
	hooks         hooks                    // Config.Hooks by interface
	balance       balancer                 // state of the leader balancer (balancer.go)
	acls          atomic.Pointer[aclIndex] // the index of __meta's ACLs, rebuilt on change (acls.go)

	metaChanged chan struct{} // signalled (non-blocking) on every __meta update
	leaders     leaderTable
	reports     chan uint64 // partition shards whose leadership changed to this node

	mu        sync.Mutex
	parts     map[uint64]*partition // running local partition replicas by shard id
	repairing map[uint64]bool       // shards whose Raft membership repairMembership is changing
	moving    map[movingTask]bool   // reassignment tasks running on this broker (reassign.go)
	removing  map[string]bool       // partition directories being deleted (stopPartition)

	removalSeen map[uint64]time.Time // unfinished broker removals, when first seen (members.go; reconcile goroutine only)

	// Damaged replicas (quarantine.go).
	qmu              sync.Mutex
	quarantine       map[uint64]*QuarantinedReplica // by shard
	damaged          chan damageReport              // damaged frames found by reads
	quarantinedTotal atomic.Uint64
	rebuiltTotal     atomic.Uint64

	ready       chan struct{} // closed once this broker is registered in __meta
	readyOnce   sync.Once
	removed     chan struct{} // closed once __meta shows this broker removed (members.go)
	removedOnce sync.Once
	closing     chan struct{}
	closeOnce   sync.Once
	wg          sync.WaitGroup
}

// Open starts an engine: the NodeHost (with the registry, filled from
// Config.Peers), the __meta replica (for a new broker with Config.Join,
// once a member added it), the reconciler that starts this broker's
// partition replicas, and the registration of this broker in __meta. It
// does not wait for __meta to elect a leader; WaitReady does.
func Open(cfg Config) (*Engine, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	lg = lg.With("node", cfg.NodeID)
	routeDragonboatLogs(lg)
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	logdb, err := chooseLogDB(cfg.DataDir, cfg.LogDB)
	if err != nil {
		return nil, err
	}
	reg, err := shards.NewRegistry(cfg.Peers, lg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	raftAddr, _ := shards.CanonicalAddr(cfg.RaftAddr)
	e := &Engine{
		cfg: cfg, log: lg, reg: reg, logdb: logdb,
		segCache:    segment.NewCache(int(cfg.SegmentCacheBytes)),
		metaChanged: make(chan struct{}, 1),
		reports:     make(chan uint64, 1024),
		parts:       map[uint64]*partition{},
		repairing:   map[uint64]bool{},
		moving:      map[movingTask]bool{},
		removing:    map[string]bool{},
		removalSeen: map[uint64]time.Time{},
		quarantine:  map[uint64]*QuarantinedReplica{},
		damaged:     make(chan damageReport, 64),
		ready:       make(chan struct{}),
		removed:     make(chan struct{}),
		closing:     make(chan struct{}),
	}
	e.leaders.init()
	e.links = newPeerLinks(cfg.Peers)
	e.hooks = newHooks(cfg.Hooks)
	e.disk = newDiskGuard(cfg.DataDir, cfg.MinFreeBytes, lg)
	nhc := raftconf.NodeHost(filepath.Join(cfg.DataDir, "raft"), raftAddr, e.raftOptions())
	nhc.NodeHostID = shards.NodeHostID(cfg.NodeID)
	nhc.RaftEventListener = (*raftListener)(e)
	nhc.SystemEventListener = (*systemListener)(e)
	nhc.Expert.NodeRegistryFactory = reg
	raftconf.ObserveReplication(&nhc, e.progress.replicated)
	e.logdbStores = raftconf.ObserveLogDB(&nhc)
	if t := cfg.RaftTLS; t.Enabled() {
		nhc.MutualTLS = true
		nhc.CAFile, nhc.CertFile, nhc.KeyFile = t.CAFile, t.CertFile, t.KeyFile
	}
	nh, err := dragonboat.NewNodeHost(nhc)
	if err != nil {
		return nil, fmt.Errorf("start raft node host at %s: %w", raftAddr, err)
	}
	e.nh = nh
	e.meta = shards.NewMetaSM(e.onMetaChange)
	if cfg.Join != nil && !nh.HasNodeInfo(shards.MetaShardID, cfg.NodeID) {
		// A new broker of a running cluster: its __meta replica starts
		// once a member has added it (members.go).
		e.goFunc(e.joinLoop)
	} else if err := e.startMeta(false); err != nil {
		nh.Close()
		return nil, err
	}
	e.goFunc(func() { e.links.probeLoop(e.closing) })
	e.goFunc(e.registerLoop)
	e.goFunc(e.damageLoop)
	e.goFunc(e.reconcileLoop)
	e.goFunc(e.reportLoop)
	e.goFunc(e.retentionLoop)
	e.goFunc(e.raftLogLoop)
	e.goFunc(e.compactionLoop)
	e.goFunc(e.balanceLoop)
	e.goFunc(func() { e.disk.loop(time.Second, e.closing) })
	e.goFunc(func() { e.diskReportLoop(time.Second) })
	return e, nil
}

// goFunc runs f on a goroutine that Close waits for.
func (e *Engine) goFunc(f func()) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		f()
	}()
}

// chooseLogDB returns the LogDB recorded in dir/LOGDB, or records want
// (default raftconf.DefaultLogDB) there on the first start.
func chooseLogDB(dir, want string) (string, error) {
	p := filepath.Join(dir, "LOGDB")
	b, err := os.ReadFile(p)
	if err == nil {
		have := strings.TrimSpace(string(b))
		if want != "" && want != have {
			return "", fmt.Errorf("%w: LogDB %q requested but %s was created with %q (fixed at first start)", ErrInvalidConfig, want, dir, have)
		}
		return have, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	if want == "" {
		want = raftconf.DefaultLogDB
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(want+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("record logdb choice: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return "", fmt.Errorf("record logdb choice: %w", err)
	}
	return want, nil
}

// raftOptions returns the dragonboat settings chosen in the engine's Config;
// raftconf fills in everything else.
func (e *Engine) raftOptions() raftconf.Options {
	return raftconf.Options{
		RTT:                e.cfg.RTT,
		ElectionTicks:      e.cfg.ElectionTicks,
		HeartbeatTicks:     e.cfg.HeartbeatTicks,
		SnapshotEntries:    e.cfg.SnapshotEntries,
		CompactionOverhead: e.cfg.CompactionOverhead,
		LogDB:              e.logdb,
		TinyLogDBMemory:    e.cfg.SmallLogDBMemory,
	}
}

// raftConfig returns the dragonboat settings of one replica.
func (e *Engine) raftConfig(shard, replica uint64) config.Config {
	return raftconf.Replica(shard, replica, e.raftOptions())
}

// onMetaChange runs on __meta's apply goroutine after every update: it
// brings the Raft registry and the peer links up to date with the broker
// table (members.go) and wakes the reconciler.
func (e *Engine) onMetaChange(st *shards.MetaState) {
	e.syncBrokers(st)
	select {
	case e.metaChanged <- struct{}{}:
	default:
	}
}

// startMeta starts this broker's __meta replica (replica id = broker id):
// on the first start of an initial member with every configured peer as an
// initial member, as a joiner when a member added it (join), and with no
// member map on every restart.
func (e *Engine) startMeta(join bool) error {
	rc := e.raftConfig(shards.MetaShardID, e.cfg.NodeID)
	rc.SnapshotEntries = 1000
	rc.CompactionOverhead = 1000
	var members map[uint64]string
	if !join && !e.nh.HasNodeInfo(shards.MetaShardID, e.cfg.NodeID) {
		ids := make([]uint64, 0, len(e.cfg.Peers))
		for id := range e.cfg.Peers {
			ids = append(ids, id)
		}
		members = shards.Members(ids)
	}
	create := func(uint64, uint64) sm.IStateMachine { return e.meta }
	if err := e.nh.StartReplica(members, join, create, rc); err != nil {
		return fmt.Errorf("start __meta replica: %w", err)
	}
	return nil
}

// registerLoop registers this broker in __meta once it has a leader, and has
// the controller generate the cluster id.
func (e *Engine) registerLoop() {
	me := shards.BrokerInfo{ID: e.cfg.NodeID, KafkaAddr: e.cfg.KafkaAddr, Listeners: maps.Clone(e.cfg.KafkaListeners), Rack: e.cfg.Rack}
	raftAddr, _ := shards.CanonicalAddr(e.cfg.RaftAddr)
	for {
		st := e.meta.State()
		if st.Removed(me.ID) {
			return // the reconciler reports it (Removed)
		}
		b, ok := st.Brokers[me.ID]
		registered := ok && b.Equal(me) && st.RaftAddrs[me.ID] == raftAddr
		if registered && st.ClusterID != "" {
			e.readyOnce.Do(func() { close(e.ready) })
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var err error
		if !registered {
			_, err = e.proposeMeta(ctx, shards.MetaCommand{Op: shards.OpRegister, Broker: &me, RaftAddr: raftAddr})
		} else if leader, _ := e.leaders.get(shards.MetaShardID); leader == e.cfg.NodeID {
			_, err = e.proposeMeta(ctx, shards.MetaCommand{Op: shards.OpInitCluster, ClusterID: newClusterID()})
		}
		cancel()
		if err != nil && !errors.Is(err, ErrClosed) {
			e.log.Debug("register in __meta", "err", err)
		}
		select {
		case <-e.closing:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// newClusterID returns a random, Kafka-style (base64url, 22 chars) cluster id.
func newClusterID() string {
	var b [16]byte
	rand.Read(b[:])
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	out := make([]byte, 22)
	var acc, bits uint
	j := 0
	for _, c := range b {
		acc = acc<<8 | uint(c)
		bits += 8
		for bits >= 6 && j < 22 {
			bits -= 6
			out[j] = alphabet[(acc>>bits)&63]
			j++
		}
	}
	if j < 22 {
		out[j] = alphabet[(acc<<(6-bits))&63]
	}
	return string(out)
}

// proposeMeta proposes c to __meta, retrying temporary errors until ctx is
// done, and returns the result value. A proposal made on a follower is
// forwarded to the leader and silently lost if leadership moves meanwhile,
// so each attempt is bounded (two election timeouts, at least 1 s) and a
// timed-out attempt is retried: every __meta command is idempotent or
// harmless to repeat (a create carries its topic id; a repeated delete is
// reported by retried).
func (e *Engine) proposeMeta(ctx context.Context, c shards.MetaCommand) (uint64, error) {
	v, _, err := e.proposeMetaRetried(ctx, c)
	return v, err
}

// proposeMetaRetried is proposeMeta that also tells whether an earlier
// attempt timed out (and so may have been applied).
func (e *Engine) proposeMetaRetried(ctx context.Context, c shards.MetaCommand) (uint64, bool, error) {
	attempt := max(time.Second, 2*time.Duration(e.cfg.ElectionTicks)*e.cfg.RTT)
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.cfg.ProduceTimeout)
		defer cancel()
	}
	cmd := c.Encode()
	retried := false
	for {
		actx, cancel := context.WithTimeout(ctx, attempt)
		res, err := e.propose(actx, shards.MetaShardID, cmd)
		cancel()
		if err != nil {
			if errors.Is(err, ErrTimeout) && ctx.Err() == nil {
				retried = true
				continue
			}
			return 0, retried, fmt.Errorf("__meta %s: %w", c.Op, err)
		}
		if len(res.Data) > 0 {
			return res.Value, retried, &metaError{code: res.Value}
		}
		return res.Value, retried, nil
	}
}

type metaError struct{ code uint64 }

func (m *metaError) Error() string {
	return fmt.Sprintf("chronik: __meta rejected the command (code %d)", m.code)
}

// propose runs SyncPropose, retrying dragonboat's temporary errors until ctx
// is done. A context without deadline gets Config.ProduceTimeout.
func (e *Engine) propose(ctx context.Context, shard uint64, cmd []byte) (sm.Result, error) {
	start := time.Now()
	res, err := e.proposeRetry(ctx, shard, cmd)
	e.hooks.onCommit(e.shardTopic(shard), start, err)
	return res, err
}

// shardTopic names the topic of a shard this broker hosts ("__meta" for
// the metadata group, "" when unknown).
func (e *Engine) shardTopic(shard uint64) string {
	if shard == shards.MetaShardID {
		return "__meta"
	}
	if p := e.local(shard); p != nil {
		return p.topic
	}
	return ""
}

func (e *Engine) proposeRetry(ctx context.Context, shard uint64, cmd []byte) (sm.Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.cfg.ProduceTimeout)
		defer cancel()
	}
	sess := e.nh.GetNoOPSession(shard)
	backoff := time.Millisecond
	for {
		res, err := e.nh.SyncPropose(ctx, sess, cmd)
		if err == nil {
			return res, nil
		}
		select {
		case <-e.closing:
			return sm.Result{}, fmt.Errorf("shard %d: %w", shard, ErrClosed)
		default:
		}
		if ctx.Err() != nil || errors.Is(err, dragonboat.ErrTimeout) || errors.Is(err, dragonboat.ErrTimeoutTooSmall) {
			return sm.Result{}, fmt.Errorf("shard %d: %w (%v)", shard, ErrTimeout, err)
		}
		if errors.Is(err, dragonboat.ErrShardNotFound) || errors.Is(err, dragonboat.ErrShardClosed) || errors.Is(err, dragonboat.ErrClosed) {
			return sm.Result{}, fmt.Errorf("shard %d: %w (%v)", shard, ErrNotReady, err)
		}
		if !dragonboat.IsTempError(err) {
			return sm.Result{}, fmt.Errorf("shard %d: propose: %w", shard, err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return sm.Result{}, fmt.Errorf("shard %d: %w (%v)", shard, ErrTimeout, err)
		case <-e.closing:
			t.Stop()
			return sm.Result{}, fmt.Errorf("shard %d: %w", shard, ErrClosed)
		case <-t.C:
		}
		backoff = min(backoff*2, 100*time.Millisecond)
	}
}

// Close stops the engine: it hands leadership of the partitions it leads to
// another replica where it can (bounded to about two election timeouts),
// stops every replica and closes the NodeHost.
func (e *Engine) Close() error { return e.close(true) }

// Abort stops the engine like Close but without handing over leadership
// first: the other replicas notice the loss only by their election timeout,
// as after a crash (fault tests, emergencies).
func (e *Engine) Abort() error { return e.close(false) }

func (e *Engine) close(graceful bool) error {
	first := false
	e.closeOnce.Do(func() { first = true })
	if !first {
		return nil
	}
	if graceful {
		e.transferLeadership()
	}
	close(e.closing)
	e.wg.Wait()
	e.logdbStores.Detach() // their metrics are not to be read once closed
	e.nh.Close()
	e.mu.Lock()
	for _, p := range e.parts {
		p.notify.close()
	}
	e.parts = map[uint64]*partition{}
	e.mu.Unlock()
	return nil
}

// NodeID returns this broker's id.
func (e *Engine) NodeID() uint64 { return e.cfg.NodeID }

// WaitReady blocks until __meta has a leader, the cluster id is set and this
// broker is registered. It returns ctx's error wrapped in ErrTimeout, or
// ErrClosed.
func (e *Engine) WaitReady(ctx context.Context) error {
	select {
	case <-e.ready:
		return nil
	case <-e.closing:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("wait for __meta: %w (%v)", ErrTimeout, ctx.Err())
	}
}

// ControllerID returns the broker leading __meta (the controller), 0 if none.
func (e *Engine) ControllerID() uint64 {
	l, _ := e.leaders.get(shards.MetaShardID)
	return shards.BrokerOf(l)
}

// ClusterID returns the cluster's id, generated once and stored in __meta;
// "" before the first controller has set it (see WaitReady).
func (e *Engine) ClusterID() string { return e.meta.State().ClusterID }

// LogDB returns the Raft log store in use ("tan" or "pebble").
func (e *Engine) LogDB() string { return e.logdb }

// UnknownRaftTargets counts Raft messages this broker could not address
// because the target replica's broker is not among the configured peers.
func (e *Engine) UnknownRaftTargets() uint64 { return e.reg.UnknownTargets() }

// CorruptFrames counts damage found in the segment files of local
// partition replicas: each damaged frame a read (which then fails with
// ErrStorage) or the background rewrite meets, and each replica whose
// directory fails segment.Check before it starts (a damaged frame or a
// missing segment file). The replica is quarantined (QuarantinedReplicas);
// with other replicas it is rebuilt from the leader, alone it needs an
// operator.
func (e *Engine) CorruptFrames() uint64 { return e.corruptFrames.Load() }

// DiskFreeBytes is the free space last measured (every second) on the file
// system holding the data directory, -1 if it could not be read.
func (e *Engine) DiskFreeBytes() int64 { return e.disk.free.Load() }

// SegmentCacheBytes is how much the cache of decoded frames that all local
// partitions share holds now (Config.SegmentCacheBytes bounds it).
func (e *Engine) SegmentCacheBytes() int64 { return int64(e.segCache.Bytes()) }

// raftListener receives dragonboat's leader events.
type raftListener Engine

// LeaderUpdated implements raftio.IRaftEventListener. It runs on one
// dragonboat goroutine and only records the change.
func (l *raftListener) LeaderUpdated(info raftio.LeaderInfo) {
	e := (*Engine)(l)
	e.leaders.set(info.ShardID, info.LeaderID, info.Term)
	if info.LeaderID != 0 && info.LeaderID != info.ReplicaID {
		if p := e.local(info.ShardID); p != nil {
			p.followed.Store(true)
		}
		// A leader this replica just heard from in its new term is alive.
		e.links.heard(shards.BrokerOf(info.LeaderID))
	}
	e.onLeaderChange(info.ShardID, info.LeaderID, info.Term)
	if info.ShardID != shards.MetaShardID && info.LeaderID == info.ReplicaID && info.LeaderID != 0 {
		select {
		case e.reports <- info.ShardID:
		default:
		}
	}
	if info.ShardID == shards.MetaShardID {
		select {
		case e.metaChanged <- struct{}{}:
		default:
		}
	}
}
