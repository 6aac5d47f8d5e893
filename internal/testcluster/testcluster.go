// Package testcluster starts in-process chronik clusters for tests: n engines
// on free 127.0.0.1 ports, each with its own t.TempDir() data directory and
// small Raft timeouts, stopped by t.Cleanup.
//
//	c := testcluster.New(t, 3)
//	c.CreateTopic(t, "orders", engine.TopicConfig{Partitions: 3})
//	leader := c.Leader(t, "orders", 0)
//	c.Stop(leader)
//	c.Restart(leader)
package testcluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
)

// Option configures a cluster.
type Option func(*options)

type options struct {
	cfg    []func(*engine.Config)
	faults bool
}

// WithConfig applies f to each engine's config before it opens.
func WithConfig(f func(*engine.Config)) Option {
	return func(o *options) { o.cfg = append(o.cfg, f) }
}

// WithLogger sends the engines' logs to lg (default: discarded unless the
// CHRONIK_TEST_LOG environment variable is set, then to t.Log).
func WithLogger(lg *slog.Logger) Option {
	return WithConfig(func(c *engine.Config) { c.Logger = lg })
}

// WithFaults routes every Raft link between two engines through a TCP
// proxy, so that Isolate and Heal can cut and restore links.
func WithFaults() Option { return func(o *options) { o.faults = true } }

// Cluster is a set of in-process engines. Engines are numbered 1..n, equal to
// their node ids.
type Cluster struct {
	t       testing.TB
	mu      sync.Mutex
	cfgs    map[uint64]engine.Config
	engines map[uint64]*engine.Engine
	proxies map[[2]uint64]*LinkProxy // (from, to) -> proxy; nil without WithFaults
}

// New starts n engines forming one cluster and waits until every one is
// ready (registered in __meta). The engines close at t's cleanup.
func New(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	c := &Cluster{t: t, cfgs: map[uint64]engine.Config{}, engines: map[uint64]*engine.Engine{}}
	peers := map[uint64]string{}
	for i := 1; i <= n; i++ {
		peers[uint64(i)] = freeAddr(t)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	faults := o.faults
	if faults {
		c.proxies = map[[2]uint64]*LinkProxy{}
		t.Cleanup(func() {
			for _, p := range c.proxies {
				p.Close()
			}
		})
	}
	for i := 1; i <= n; i++ {
		myPeers := peers
		if faults {
			myPeers = map[uint64]string{}
			for j := 1; j <= n; j++ {
				if j == i {
					myPeers[uint64(j)] = peers[uint64(j)]
					continue
				}
				p, err := NewLinkProxy(peers[uint64(j)])
				if err != nil {
					t.Fatal(err)
				}
				c.proxies[[2]uint64{uint64(i), uint64(j)}] = p
				myPeers[uint64(j)] = p.Addr()
			}
		}
		cfg := engine.Config{
			NodeID:                 uint64(i),
			DataDir:                t.TempDir(),
			RaftAddr:               peers[uint64(i)],
			Peers:                  myPeers,
			KafkaAddr:              fmt.Sprintf("127.0.0.1:%d", 19092+i),
			RTT:                    25 * time.Millisecond, // 0.5-1 s elections: no spurious ones on a loaded 2-core machine
			ElectionTicks:          20,
			HeartbeatTicks:         2,
			SmallLogDBMemory:       true,
			ReconcileInterval:      100 * time.Millisecond,
			RetentionCheckInterval: 200 * time.Millisecond,
			ProduceTimeout:         10 * time.Second,
		}
		if os.Getenv("CHRONIK_TEST_LOG") != "" {
			cfg.Logger = slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
		for _, f := range o.cfg {
			f(&cfg)
		}
		c.cfgs[uint64(i)] = cfg
	}
	t.Cleanup(c.Close)
	var wg sync.WaitGroup
	errs := make([]error, n+1)
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func(id uint64) {
			defer wg.Done()
			errs[id] = c.start(id)
		}(uint64(i))
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 1; i <= n; i++ {
		if err := c.Engine(i).WaitReady(ctx); err != nil {
			t.Fatalf("engine %d not ready: %v", i, err)
		}
	}
	// Every engine sees every broker, so topic placement uses them all.
	c.waitFor(t, 20*time.Second, "all brokers registered", func() bool {
		for i := 1; i <= n; i++ {
			if len(c.Engine(i).Metadata().Brokers) != n {
				return false
			}
		}
		return true
	})
	return c
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// freeAddr returns a 127.0.0.1 address whose port was free a moment ago.
func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (c *Cluster) start(id uint64) error {
	c.mu.Lock()
	cfg := c.cfgs[id]
	c.mu.Unlock()
	e, err := engine.Open(cfg)
	if err != nil {
		return fmt.Errorf("open engine %d: %w", id, err)
	}
	c.mu.Lock()
	c.engines[id] = e
	c.mu.Unlock()
	return nil
}

// N returns the number of engines.
func (c *Cluster) N() int { return len(c.cfgs) }

// Config returns engine i's configuration.
func (c *Cluster) Config(i int) engine.Config {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfgs[uint64(i)]
}

// Engine returns engine i (1-based), nil while it is stopped.
func (c *Cluster) Engine(i int) *engine.Engine {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.engines[uint64(i)]
}

// Running returns the ids of the engines not stopped.
func (c *Cluster) Running() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []int
	for i := 1; i <= len(c.cfgs); i++ {
		if c.engines[uint64(i)] != nil {
			ids = append(ids, i)
		}
	}
	return ids
}

// Stop closes engine i (its data stays, for Restart).
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	e := c.engines[uint64(i)]
	delete(c.engines, uint64(i))
	c.mu.Unlock()
	if e != nil {
		if err := e.Close(); err != nil {
			c.t.Errorf("close engine %d: %v", i, err)
		}
	}
}

// Kill stops engine i without a graceful leadership hand-over, as a crash
// would (its data stays, for Restart).
func (c *Cluster) Kill(i int) {
	c.mu.Lock()
	e := c.engines[uint64(i)]
	delete(c.engines, uint64(i))
	c.mu.Unlock()
	if e != nil {
		if err := e.Abort(); err != nil {
			c.t.Errorf("abort engine %d: %v", i, err)
		}
	}
}

// Reconfigure applies f to engine i's configuration; it takes effect at the
// next Restart.
func (c *Cluster) Reconfigure(i int, f func(*engine.Config)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg := c.cfgs[uint64(i)]
	f(&cfg)
	c.cfgs[uint64(i)] = cfg
}

// Restart opens engine i again on its data directory and waits until it is
// ready. It stops the engine first if it runs.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.Stop(i)
	if err := c.start(uint64(i)); err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Engine(i).WaitReady(ctx); err != nil {
		c.t.Fatalf("engine %d not ready after restart: %v", i, err)
	}
}

// RestartAll stops every engine, then opens them all again at once (a
// restarted engine alone may wait for a quorum of __meta) and waits until
// each is ready.
func (c *Cluster) RestartAll() {
	c.t.Helper()
	c.Close()
	var wg sync.WaitGroup
	errs := make([]error, c.N()+1)
	for i := 1; i <= c.N(); i++ {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = c.start(uint64(i)) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			c.t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 1; i <= c.N(); i++ {
		if err := c.Engine(i).WaitReady(ctx); err != nil {
			c.t.Fatalf("engine %d not ready after restart: %v", i, err)
		}
	}
}

// Isolate cuts every Raft link between engine i and the others, in both
// directions (requires WithFaults). The engine keeps running.
func (c *Cluster) Isolate(i int) {
	c.t.Helper()
	if c.proxies == nil {
		c.t.Fatal("testcluster: Isolate needs WithFaults()")
	}
	for k, p := range c.proxies {
		if k[0] == uint64(i) || k[1] == uint64(i) {
			p.SetCut(true)
		}
	}
}

// Heal restores every link cut by Isolate.
func (c *Cluster) Heal() {
	for _, p := range c.proxies {
		p.SetCut(false)
	}
}

// Close stops every engine.
func (c *Cluster) Close() {
	var wg sync.WaitGroup
	for _, i := range c.Running() {
		wg.Add(1)
		go func() { defer wg.Done(); c.Stop(i) }()
	}
	wg.Wait()
}

// CreateTopic creates a topic through engine 1 (or the first running one)
// and fails t on error.
func (c *Cluster) CreateTopic(t testing.TB, name string, tc engine.TopicConfig) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Engine(c.Running()[0]).CreateTopic(ctx, name, tc); err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
}

// Leader returns the engine id that leads the partition as the running
// engines see it (a majority view from the partition's own replicas), 0 if
// none is known.
func (c *Cluster) Leader(topic string, partition int32) int {
	for _, i := range c.Running() {
		e := c.Engine(i)
		if e == nil {
			continue
		}
		if _, err := e.ListOffsets(context.Background(), topic, partition, engine.Latest); err == nil {
			return i
		}
	}
	return 0
}

// WaitLeader waits up to d for a running engine to lead the partition and
// returns its id; it fails t on timeout.
func (c *Cluster) WaitLeader(t testing.TB, topic string, partition int32, d time.Duration) int {
	t.Helper()
	var id int
	c.waitFor(t, d, fmt.Sprintf("a leader of %s/%d", topic, partition), func() bool {
		id = c.Leader(topic, partition)
		return id != 0
	})
	return id
}

// WaitAgreedLeader waits up to d for a running engine to lead the
// partition and for every running engine's Metadata to name it, and
// returns its id; it fails t on timeout.
func (c *Cluster) WaitAgreedLeader(t testing.TB, topic string, partition int32, d time.Duration) int {
	t.Helper()
	var id int
	c.waitFor(t, d, fmt.Sprintf("a leader of %s/%d known to every broker", topic, partition), func() bool {
		if id = c.Leader(topic, partition); id == 0 {
			return false
		}
		for _, i := range c.Running() {
			e := c.Engine(i)
			if e == nil || metadataLeader(e.Metadata(), topic, partition) != uint64(id) {
				return false
			}
		}
		return true
	})
	return id
}

func metadataLeader(md engine.Metadata, topic string, partition int32) uint64 {
	for _, ti := range md.Topics {
		if ti.Name == topic && int(partition) < len(ti.Partitions) {
			return ti.Partitions[partition].Leader
		}
	}
	return 0
}

func (c *Cluster) waitFor(t testing.TB, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// AddEngine starts engine N()+1 as a broker joining the running cluster
// (engine.Config.Join asks the first running engine to add it), waits
// until it is ready, and returns its number. Its Raft links are direct,
// even WithFaults.
func (c *Cluster) AddEngine(t testing.TB, opts ...Option) int {
	t.Helper()
	c.mu.Lock()
	id := uint64(len(c.cfgs) + 1)
	base := c.cfgs[1]
	peers := map[uint64]string{}
	for j, cfg := range c.cfgs {
		peers[j] = cfg.RaftAddr
	}
	c.mu.Unlock()
	cfg := base
	cfg.NodeID = id
	cfg.DataDir = t.TempDir()
	cfg.RaftAddr = freeAddr(t)
	peers[id] = cfg.RaftAddr
	cfg.Peers = peers
	cfg.KafkaAddr = fmt.Sprintf("127.0.0.1:%d", 19092+int(id))
	cfg.Join = func(ctx context.Context) error {
		for _, i := range c.Running() {
			if i == int(id) {
				continue
			}
			return c.Engine(i).AddBroker(ctx, id, cfg.RaftAddr)
		}
		return errors.New("testcluster: no running engine to join through")
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	for _, f := range o.cfg {
		f(&cfg)
	}
	c.mu.Lock()
	c.cfgs[id] = cfg
	c.mu.Unlock()
	if err := c.start(id); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Engine(int(id)).WaitReady(ctx); err != nil {
		t.Fatalf("engine %d not ready after joining: %v", id, err)
	}
	return int(id)
}
