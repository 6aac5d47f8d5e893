package bench

import (
	"context"
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
	// directory, Raft port and Kafka listener on 127.0.0.1. Default 1.
	Nodes int
	// Dir holds the brokers' data. Empty (the default) uses a new temporary
	// directory that Close removes; a given Dir is kept.
	Dir string
	// DefaultPartitions of auto-created topics; 0 = the engine's default.
	DefaultPartitions int32
	// ReadyTimeout bounds the wait for every broker to be ready. Default 60s.
	ReadyTimeout time.Duration
	// Logger receives the brokers' logs; nil discards them.
	Logger *slog.Logger `json:"-"`
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
	if cfg.Nodes == 0 {
		cfg.Nodes = 1
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
	}
	defer func() {
		if err != nil {
			_ = c.Close()
		}
	}()

	// Kafka listeners stay open and are handed to the servers; Raft ports
	// are found by listening and closing, as dragonboat binds its own.
	lns := make([]net.Listener, cfg.Nodes)
	peers := map[uint64]string{}
	for i := range cfg.Nodes {
		if lns[i], err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			closeAll(lns)
			return nil, fmt.Errorf("bench: listen for Kafka: %w", err)
		}
		raftAddr, err := freeAddr()
		if err != nil {
			closeAll(lns)
			return nil, err
		}
		peers[uint64(i+1)] = raftAddr
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
		for _, e := range c.engines {
			if err := e.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close engine %d: %w", e.NodeID(), err))
			}
		}
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
