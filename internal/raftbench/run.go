package raftbench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lni/dragonboat/v4"

	"github.com/chronik-io/chronik/internal/raftconf"
)

// Phases of a run, as seen by the proposers.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseDone
)

// lagWait bounds how long Run waits, after the load, for followers to
// apply what their leader has.
const lagWait = 5 * time.Second

// Run starts the cluster Config describes, loads it for Warmup and then
// Duration, and reports the measured phase. It returns an error, and no
// Result, when cfg is invalid (Validate) or the cluster does not start
// within StartTimeout; once the load has begun it returns a Result, marked
// Interrupted if ctx ended it early. Everything Run starts is stopped, and
// a temporary data directory removed, before it returns.
func Run(ctx context.Context, cfg Config) (res Result, err error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	cfg = cfg.withDefaults()
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	// Restored after the NodeHosts have closed (defers run last first).
	defer raftconf.RouteLogs(raftconf.RouteLogs(slog.New(errorsOnly{lg.Handler()})))
	dir, keep, err := prepareDir(cfg.Dir)
	if err != nil {
		return Result{}, err
	}
	if !keep {
		defer func() {
			if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
				err = fmt.Errorf("raftbench: remove %s: %w", dir, rerr)
			}
		}()
	}
	c, err := startCluster(ctx, cfg, dir, lg)
	if err != nil {
		return Result{}, err
	}
	defer c.close()

	l := &load{c: c, cfg: cfg, rec: newRecorder(), errs: map[string]int64{}, stop: make(chan struct{})}
	l.cmd = make([]byte, cfg.Payload)
	rand.Read(l.cmd) // incompressible, like compressed produce batches
	res = Result{Kind: "raft", Settings: settings(cfg), Leaders: c.leadersPerNode(), CPUCores: -1}
	if keep {
		res.Dir = dir
	}
	if cfg.Idle {
		res.Idle = true
		res.Interrupted = !measureIdle(ctx, cfg, &res)
		res.Lagging = c.lagging(lagWait)
		return res, nil
	}
	l.start()
	res.Interrupted = !l.warmup(ctx)
	if !res.Interrupted {
		res.Interrupted = !l.measure(ctx, &res)
	}
	l.finish()
	res.Proposals, res.Failed, res.WarmupProposals = l.proposals.Load(), l.failed.Load(), l.warmed.Load()
	res.Bytes = res.Proposals * int64(cfg.Payload)
	res.ElapsedSeconds = res.Elapsed.Seconds()
	if s := res.Elapsed.Seconds(); s > 0 {
		res.ProposalsPerSec = float64(res.Proposals) / s
		res.MBPerSec = float64(res.Bytes) / 1e6 / s
		res.MiBPerSec = float64(res.Bytes) / (1 << 20) / s
	}
	res.Latency = l.rec.summary()
	l.mu.Lock()
	res.Errors = errorCounts(l.errs)
	l.mu.Unlock()
	res.Lagging = c.lagging(lagWait)
	if cfg.Progress != nil {
		cfg.Progress(Progress{
			Done: true, Elapsed: res.Elapsed, Duration: cfg.Duration,
			Proposals: res.Proposals, Failed: res.Failed,
			ProposalsPerSec: res.ProposalsPerSec, MiBPerSec: res.MiBPerSec, P99: res.Latency.P99,
		})
	}
	return res, nil
}

// measureIdle waits cfg.Warmup, then measures the process's CPU over
// cfg.Duration with no load, and its live heap after a forced collection;
// it reports false if ctx ended first.
func measureIdle(ctx context.Context, cfg Config, res *Result) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(cfg.Warmup):
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.HeapPerReplicaBytes = float64(ms.HeapAlloc) / float64(cfg.Shards*cfg.Nodes)
	res.Started = time.Now()
	cpu0, cpuOK := cpuTime()
	select {
	case <-ctx.Done():
	case <-time.After(cfg.Duration):
	}
	res.Elapsed = time.Since(res.Started)
	res.ElapsedSeconds = res.Elapsed.Seconds()
	if cpu1, ok := cpuTime(); ok && cpuOK && res.Elapsed > 0 {
		res.CPUCores = (cpu1 - cpu0).Seconds() / res.Elapsed.Seconds()
		res.IdleCPUCoresPerNode = res.CPUCores / float64(cfg.Nodes)
	}
	return ctx.Err() == nil
}

// errorsOnly passes on only records at ERROR and above: dragonboat's
// warnings (lost connections at shutdown, slow fsyncs) are noise beside a
// benchmark report.
type errorsOnly struct{ slog.Handler }

func (h errorsOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelError && h.Handler.Enabled(ctx, l)
}
func (h errorsOnly) WithAttrs(as []slog.Attr) slog.Handler {
	return errorsOnly{h.Handler.WithAttrs(as)}
}
func (h errorsOnly) WithGroup(name string) slog.Handler { return errorsOnly{h.Handler.WithGroup(name)} }

// settings returns the effective settings by flag name.
func settings(cfg Config) map[string]string {
	return map[string]string{
		"nodes":               strconv.Itoa(cfg.Nodes),
		"shards":              strconv.Itoa(cfg.Shards),
		"payload":             formatSize(cfg.Payload),
		"inflight":            strconv.Itoa(cfg.InFlight),
		"duration":            cfg.Duration.String(),
		"warmup":              cfg.Warmup.String(),
		"logdb":               cfg.Raft.LogDB,
		"rtt":                 cfg.Raft.RTT.String(),
		"election-ticks":      strconv.FormatUint(cfg.Raft.ElectionTicks, 10),
		"heartbeat-ticks":     strconv.FormatUint(cfg.Raft.HeartbeatTicks, 10),
		"snapshot-entries":    strconv.FormatUint(cfg.Raft.SnapshotEntries, 10),
		"compaction-overhead": strconv.FormatUint(cfg.Raft.CompactionOverhead, 10),
		"idle":                strconv.FormatBool(cfg.Idle),
		"quiesce":             strconv.FormatBool(cfg.Quiesce),
	}
}

// load is the proposers of one run: InFlight goroutines per shard, each
// with one proposal outstanding at a time on the shard's leader.
type load struct {
	c     *cluster
	cfg   Config
	cmd   []byte // every proposal's payload; never written after start
	rec   *recorder
	phase atomic.Int32

	proposals, failed, warmed atomic.Int64

	mu   sync.Mutex
	errs map[string]int64 // failures of the measured phase by message

	stop chan struct{} // closed when the load ends
	wg   sync.WaitGroup
}

func (l *load) start() {
	for s := 1; s <= l.cfg.Shards; s++ {
		for range l.cfg.InFlight {
			l.wg.Go(func() { l.propose(uint64(s)) })
		}
	}
}

// propose keeps one proposal outstanding on shard until the load stops.
func (l *load) propose(shard uint64) {
	sess := l.c.nhs[0].GetNoOPSession(shard)
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		nh := l.c.nhs[l.c.leader[shard-1].Load()-1]
		t0 := time.Now()
		rs, err := nh.Propose(sess, l.cmd, l.cfg.ProposalTimeout)
		if errors.Is(err, dragonboat.ErrSystemBusy) {
			// The shard's proposal queue is full: wait a little, as engine
			// does.
			l.fail("propose: " + err.Error())
			l.pause(time.Millisecond)
			continue
		}
		if err != nil {
			l.fail("propose: " + err.Error())
		} else {
			r := <-rs.AppliedC()
			rs.Release()
			if r.Completed() {
				l.applied(time.Since(t0))
				continue
			}
			l.fail(outcome(r))
		}
		// Leadership may have moved: find the leader again, without
		// spinning while the shard has none.
		l.c.refreshLeader(shard)
		l.pause(10 * time.Millisecond)
	}
}

// outcome names why a proposal did not complete.
func outcome(r dragonboat.RequestResult) string {
	switch {
	case r.Timeout():
		return "proposal timed out"
	case r.Terminated():
		return "proposal terminated (shard or NodeHost closed)"
	case r.Dropped():
		return "proposal dropped (no leader, or not the leader)"
	case r.Rejected():
		return "proposal rejected"
	case r.Aborted():
		return "proposal aborted"
	}
	return "proposal failed"
}

func (l *load) applied(d time.Duration) {
	switch l.phase.Load() {
	case phaseWarmup:
		l.warmed.Add(1)
	case phaseMeasure:
		l.proposals.Add(1)
		l.rec.record(d)
	}
}

func (l *load) fail(msg string) {
	if l.phase.Load() != phaseMeasure {
		return
	}
	l.failed.Add(1)
	l.mu.Lock()
	l.errs[msg]++
	l.mu.Unlock()
}

// pause waits d or until the load stops.
func (l *load) pause(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-l.stop:
	case <-t.C:
	}
}

// warmup runs the load for Warmup; false if ctx ended first.
func (l *load) warmup(ctx context.Context) bool {
	if l.cfg.Warmup <= 0 {
		return true
	}
	start := time.Now()
	return l.tick(ctx, start.Add(l.cfg.Warmup), func() {
		l.cfg.Progress(Progress{Warmup: true, Elapsed: time.Since(start), Duration: l.cfg.Duration})
	})
}

// measure runs the measured phase for Duration and sets res.Started,
// Elapsed and CPUCores; false if ctx ended it first.
func (l *load) measure(ctx context.Context, res *Result) bool {
	cpu0, cpuOK := cpuTime()
	start := time.Now()
	l.phase.Store(phaseMeasure)
	var last int64
	lastT := start
	ok := l.tick(ctx, start.Add(l.cfg.Duration), func() {
		now, n := time.Now(), l.proposals.Load()
		s := now.Sub(lastT).Seconds()
		l.cfg.Progress(Progress{
			Elapsed: now.Sub(start), Duration: l.cfg.Duration,
			Proposals: n, Failed: l.failed.Load(),
			ProposalsPerSec: float64(n-last) / s,
			MiBPerSec:       float64(n-last) * float64(l.cfg.Payload) / (1 << 20) / s,
			P99:             l.rec.intervalP99(),
		})
		last, lastT = n, now
	})
	l.phase.Store(phaseDone)
	res.Started, res.Elapsed = start, time.Since(start)
	if cpu1, ok := cpuTime(); ok && cpuOK && res.Elapsed > 0 {
		res.CPUCores = (cpu1 - cpu0).Seconds() / res.Elapsed.Seconds()
	}
	return ok
}

// tick waits until end, calling progress (when Config.Progress is set)
// every second; false if ctx ended first.
func (l *load) tick(ctx context.Context, end time.Time, progress func()) bool {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	done := time.NewTimer(time.Until(end))
	defer done.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-done.C:
			return true
		case <-t.C:
			if l.cfg.Progress != nil {
				progress()
			}
		}
	}
}

// finish stops the proposers and waits for their last proposals, each
// bounded by ProposalTimeout.
func (l *load) finish() {
	l.phase.Store(phaseDone)
	close(l.stop)
	l.wg.Wait()
}
