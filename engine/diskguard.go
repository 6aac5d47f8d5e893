package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chronik-io/chronik/shards"
)

// diskGuard watches the free space of the file system that holds the data
// directory. While it is below the configured minimum, this broker reports
// itself low on disk in __meta, and every leader of a partition with a
// replica here (this broker's own included) refuses new produce requests
// with ErrStorage (Kafka: KAFKA_STORAGE_ERROR, which clients retry), so a
// full disk stops intake cleanly instead of failing a write the Raft log has
// already committed. Fetches, offset lookups and replication go on.
type diskGuard struct {
	dir  string
	min  int64 // bytes; <= 0 disables the guard
	log  *slog.Logger
	free atomic.Int64 // last measured free bytes; -1 until measured or on error
	low  atomic.Bool
}

func newDiskGuard(dir string, min int64, log *slog.Logger) *diskGuard {
	g := &diskGuard{dir: dir, min: min, log: log}
	g.free.Store(-1)
	g.measure()
	return g
}

// measure reads the free space once and logs each crossing of the minimum.
func (g *diskGuard) measure() {
	free, err := freeBytes(g.dir)
	if err != nil {
		g.free.Store(-1)
		g.log.Warn("cannot read free disk space", "dir", g.dir, "err", err)
		return
	}
	g.free.Store(free)
	low := g.min > 0 && free < g.min
	if g.low.Swap(low) != low {
		if low {
			g.log.Error("free disk space below the minimum: refusing produce requests", "dir", g.dir, "free_bytes", free, "min_free_bytes", g.min)
		} else {
			g.log.Info("free disk space back above the minimum: accepting produce requests", "dir", g.dir, "free_bytes", free, "min_free_bytes", g.min)
		}
	}
}

// loop re-measures every interval until closing is closed.
func (g *diskGuard) loop(interval time.Duration, closing <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-closing:
			return
		case <-t.C:
			g.measure()
		}
	}
}

// diskLowReportAge is how often a broker low on disk repeats its report to
// __meta; a report older than diskLowReportTTL is ignored, so a broker that
// died low on disk does not block produce to its partitions for ever.
const (
	diskLowReportAge = 10 * time.Second
	diskLowReportTTL = 3 * diskLowReportAge
)

// diskReportLoop keeps this broker's entry in __meta's DiskLow equal to the
// guard's state, checked every interval, repeating a low report every
// diskLowReportAge.
func (e *Engine) diskReportLoop(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-e.closing:
			return
		case <-t.C:
		}
		low := e.disk.low.Load()
		at, reported := e.meta.State().DiskLow[e.cfg.NodeID]
		if low == reported && (!low || time.Since(time.UnixMilli(at)) < diskLowReportAge) {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := e.proposeMeta(ctx, shards.MetaCommand{Op: shards.OpDiskState, Broker: &shards.BrokerInfo{ID: e.cfg.NodeID},
			DiskLow: low, At: time.Now().UnixMilli()})
		cancel()
		if err != nil && !errors.Is(err, ErrClosed) {
			e.log.Warn("report disk state to __meta", "low", low, "err", err)
		}
	}
}

// admitReplicas returns ErrStorage if a broker hosting one of replicas
// reported its disk below its minimum to __meta within diskLowReportTTL.
func (e *Engine) admitReplicas(replicas []uint64) error {
	low := e.meta.State().DiskLow
	if len(low) == 0 {
		return nil
	}
	for _, r := range replicas {
		if at, ok := low[shards.BrokerOf(r)]; ok && time.Since(time.UnixMilli(at)) < diskLowReportTTL {
			b := shards.BrokerOf(r)
			return fmt.Errorf("broker %d, which hosts a replica, is low on disk: %w", b, ErrStorage)
		}
	}
	return nil
}

// admit returns nil, or ErrStorage while free space is below the minimum.
func (g *diskGuard) admit() error {
	if !g.low.Load() {
		return nil
	}
	return fmt.Errorf("%s has %d bytes free, below the minimum of %d: %w", g.dir, g.free.Load(), g.min, ErrStorage)
}

// freeBytes returns the bytes an unprivileged writer may still use on the
// file system holding dir.
func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
