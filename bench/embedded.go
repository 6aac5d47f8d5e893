package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/kafka"
)

// MaxEmbeddedNodes bounds EmbeddedConfig.Nodes.
const MaxEmbeddedNodes = 9

// EmbeddedConfig configures StartEmbedded.
type EmbeddedConfig struct {
	// Nodes is the number of brokers, each with its own engine, data
	// directory, Raft port and Kafka listener on 127.0.0.1. Default 1, or
	// the recorded count when Dir holds a cluster.
	Nodes int
	// Dir holds the brokers' data. Empty (the default) uses a new temporary
	// directory that Close removes. A given Dir is kept, with the brokers'
	// addresses in Dir/embedded.json, so a later StartEmbedded on the same
	// Dir restarts the same cluster (same Nodes, Raft and Kafka ports) with
	// its data, e.g. to consume what an earlier run produced.
	Dir string
	// DefaultPartitions of auto-created topics; 0 = the engine's default.
	DefaultPartitions int32
	// LogDB is the brokers' Raft log store, "pebble" or "tan"; empty means
	// the engine's default. Fixed when Dir is first used.
	LogDB string
	// ReadyTimeout bounds the wait for every broker to be ready. Default 60s.
	ReadyTimeout time.Duration
	// Logger receives the brokers' logs; nil discards them.
	Logger *slog.Logger `json:"-"`
	// SASL is the brokers' SASL configuration (kafka.Config.SASL);
	// default none.
	SASL kafka.SASLConfig `json:"-"`
	// BootstrapUser and BootstrapPassword, if set, create that SCRAM
	// user once the brokers are ready (as chronik start --bootstrap-user).
	BootstrapUser, BootstrapPassword string `json:"-"`
}

// Validate reports every problem with c, naming the field and its value.
func (c EmbeddedConfig) Validate() error {
	var errs []error
	if c.Nodes < 0 || c.Nodes > MaxEmbeddedNodes {
		errs = append(errs, fmt.Errorf("bench: Nodes %d: must be between 1 and %d", c.Nodes, MaxEmbeddedNodes))
	}
	if c.DefaultPartitions < 0 {
		errs = append(errs, fmt.Errorf("bench: DefaultPartitions %d: must not be negative", c.DefaultPartitions))
	}
	if c.ReadyTimeout < 0 {
		errs = append(errs, fmt.Errorf("bench: ReadyTimeout %s: must not be negative", c.ReadyTimeout))
	}
	switch c.LogDB {
	case "", engine.LogDBPebble, engine.LogDBTan:
	default:
		errs = append(errs, fmt.Errorf("bench: LogDB %q: want %q or %q", c.LogDB, engine.LogDBPebble, engine.LogDBTan))
	}
	return errors.Join(errs...)
}

// Cluster is an in-process chronik cluster started by StartEmbedded: real
// engines (dragonboat Raft over TCP, on-disk logs with fsync) behind real
// Kafka listeners, all on 127.0.0.1.
type Cluster struct {
	dir       string
	removeDir bool
	brokers   []string
	engines   []*engine.Engine
	servers   []*kafka.Server
	serveWG   sync.WaitGroup

	mu        sync.Mutex
	serveErrs []error
	closeOnce sync.Once
	closeErr  error
}

// StartEmbedded starts cfg.Nodes brokers in this process, each listening for
// Kafka on a free 127.0.0.1 port, and waits until all are ready. Close
// stops them.
func StartEmbedded(ctx context.Context, cfg EmbeddedConfig) (_ *Cluster, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 60 * time.Second
	}
	c := &Cluster{dir: cfg.Dir}
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "chronik-bench-"); err != nil {
			return nil, fmt.Errorf("bench: embedded cluster dir: %w", err)
		}
		c.removeDir = true
	} else if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: embedded cluster dir: %w", err)
	}
	defer func() {
		if err != nil {
			_ = c.Close()
		}
	}()

	lay, err := loadLayout(c.dir, cfg.Nodes)
	if err != nil {
		return nil, err
	}
	cfg.Nodes = len(lay.Raft)
	// Kafka listeners stay open and are handed to the servers.
	lns := make([]net.Listener, cfg.Nodes)
	peers := map[uint64]string{}
	for i := range cfg.Nodes {
		if lns[i], err = net.Listen("tcp", lay.Kafka[i]); err != nil {
			closeAll(lns)
			return nil, fmt.Errorf("bench: listen for Kafka of broker %d on %s: %w", i+1, lay.Kafka[i], err)
		}
		lay.Kafka[i] = lns[i].Addr().String()
		peers[uint64(i+1)] = lay.Raft[i]
	}
	if err := saveLayout(c.dir, lay); err != nil {
		closeAll(lns)
		return nil, err
	}
	for i := range cfg.Nodes {
		id := uint64(i + 1)
		e, err := engine.Open(engine.Config{
			NodeID:            id,
			DataDir:           filepath.Join(c.dir, "node"+strconv.Itoa(i+1)),
			RaftAddr:          peers[id],
			Peers:             peers,
			KafkaAddr:         lns[i].Addr().String(),
			Logger:            cfg.Logger,
			DefaultPartitions: cfg.DefaultPartitions,
			LogDB:             cfg.LogDB,
		})
		if err != nil {
			closeAll(lns[i:])
			return nil, fmt.Errorf("bench: open embedded broker %d: %w", id, err)
		}
		c.engines = append(c.engines, e)
		srv, err := kafka.New(e, kafka.Config{
			AutoCreateTopics:  true,
			DefaultPartitions: cfg.DefaultPartitions,
			Logger:            cfg.Logger,
			SASL:              cfg.SASL,
		})
		if err != nil {
			closeAll(lns[i:])
			return nil, fmt.Errorf("bench: kafka server for broker %d: %w", id, err)
		}
		c.servers = append(c.servers, srv)
		c.brokers = append(c.brokers, lns[i].Addr().String())
		ln := lns[i]
		c.serveWG.Add(1)
		go func() {
			defer c.serveWG.Done()
			if err := srv.Serve(ln); err != nil {
				c.mu.Lock()
				c.serveErrs = append(c.serveErrs, fmt.Errorf("broker %d: serve kafka: %w", id, err))
				c.mu.Unlock()
			}
		}()
	}
	rctx, cancel := context.WithTimeout(ctx, cfg.ReadyTimeout)
	defer cancel()
	for i, e := range c.engines {
		if err := e.WaitReady(rctx); err != nil {
			return nil, fmt.Errorf("bench: embedded broker %d not ready: %w", i+1, err)
		}
	}
	if cfg.BootstrapUser != "" {
		if _, err := c.engines[0].EnsureScramUser(rctx, cfg.BootstrapUser, cfg.BootstrapPassword); err != nil {
			return nil, fmt.Errorf("bench: bootstrap user %q: %w", cfg.BootstrapUser, err)
		}
		for i, e := range c.engines {
			for len(e.ScramCredentials(cfg.BootstrapUser)) == 0 {
				if rctx.Err() != nil {
					return nil, fmt.Errorf("bench: bootstrap user %q not on broker %d: %w", cfg.BootstrapUser, i+1, rctx.Err())
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	return c, nil
}

// Brokers returns the brokers' Kafka addresses, host:port.
func (c *Cluster) Brokers() []string { return append([]string(nil), c.brokers...) }

// Dir returns the directory holding the brokers' data.
func (c *Cluster) Dir() string { return c.dir }

// Close stops the Kafka servers and engines and removes a temporary data
// directory. It returns the first error of any of them, including a Kafka
// server that stopped serving early.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		var errs []error
		for _, s := range c.servers {
			if err := s.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close kafka server: %w", err))
			}
		}
		c.serveWG.Wait()
		// Engines stop together: one by one, the survivors would spend the
		// wait electing leaders and logging unreachable peers.
		var wg sync.WaitGroup
		engineErrs := make([]error, len(c.engines))
		for i, e := range c.engines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := e.Close(); err != nil {
					engineErrs[i] = fmt.Errorf("close engine %d: %w", e.NodeID(), err)
				}
			}()
		}
		wg.Wait()
		errs = append(errs, engineErrs...)
		c.mu.Lock()
		errs = append(errs, c.serveErrs...)
		c.mu.Unlock()
		if c.removeDir {
			if err := os.RemoveAll(c.dir); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", c.dir, err))
			}
		}
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

// layoutFile, in EmbeddedConfig.Dir, records the cluster's addresses.
const layoutFile = "embedded.json"

// layout is the address plan of an embedded cluster, index i for broker i+1.
type layout struct {
	Raft  []string `json:"raft"`
	Kafka []string `json:"kafka"`
}

// loadLayout reads dir's layout, or plans a new one for nodes brokers (free
// Raft ports, any Kafka port) when there is none. A recorded layout must
// have nodes brokers unless nodes is 0.
func loadLayout(dir string, nodes int) (layout, error) {
	var lay layout
	b, err := os.ReadFile(filepath.Join(dir, layoutFile))
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &lay); err != nil || len(lay.Raft) == 0 || len(lay.Raft) != len(lay.Kafka) {
			return lay, fmt.Errorf("bench: %s in %s is not a valid cluster layout (%v)", layoutFile, dir, err)
		}
		if nodes != 0 && nodes != len(lay.Raft) {
			return lay, fmt.Errorf("bench: Nodes %d: the cluster in %s has %d brokers", nodes, dir, len(lay.Raft))
		}
		return lay, nil
	case !errors.Is(err, os.ErrNotExist):
		return lay, fmt.Errorf("bench: read cluster layout: %w", err)
	}
	if nodes == 0 {
		nodes = 1
	}
	for range nodes {
		addr, err := freeAddr()
		if err != nil {
			return lay, err
		}
		lay.Raft = append(lay.Raft, addr)
		lay.Kafka = append(lay.Kafka, "127.0.0.1:0")
	}
	return lay, nil
}

func saveLayout(dir string, lay layout) error {
	b, err := json.MarshalIndent(lay, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: encode cluster layout: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, layoutFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench: write cluster layout: %w", err)
	}
	return nil
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("bench: find a free Raft port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("bench: find a free Raft port: %w", err)
	}
	return addr, nil
}

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		if ln != nil {
			_ = ln.Close()
		}
	}
}
