package raftbench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chronik-io/chronik/internal/raftconf"
)

// TestRun runs one shard on one and on three nodes for about a second each
// and checks that the figures add up.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dragonboat NodeHosts")
	}
	for _, nodes := range []int{1, 3} {
		t.Run(fmt.Sprintf("nodes=%d", nodes), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cfg := DefaultConfig()
			cfg.Nodes, cfg.Shards, cfg.Payload, cfg.InFlight = nodes, 1, 4<<10, 4
			cfg.Duration, cfg.Warmup = time.Second, 200*time.Millisecond
			var calls int
			cfg.Progress = func(p Progress) { calls++ }
			res, err := Run(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			l := res.Latency
			t.Logf("%d proposals, %.0f/s, p50 %.3f ms, p99 %.3f ms, %.2f cores", res.Proposals, res.ProposalsPerSec, l.P50, l.P99, res.CPUCores)
			if res.Proposals <= 0 || res.Failed != 0 || len(res.Errors) != 0 {
				t.Fatalf("proposals %d, failed %d, errors %v", res.Proposals, res.Failed, res.Errors)
			}
			if res.Bytes != res.Proposals*int64(cfg.Payload) {
				t.Fatalf("bytes %d, want %d proposals * %d", res.Bytes, res.Proposals, cfg.Payload)
			}
			if l.Count != res.Proposals {
				t.Fatalf("latency count %d, proposals %d", l.Count, res.Proposals)
			}
			ordered := []float64{l.Min, l.P50, l.P90, l.P99, l.P999, l.Max}
			for i := 1; i < len(ordered); i++ {
				if ordered[i] < ordered[i-1] || ordered[0] <= 0 {
					t.Fatalf("latency not ordered: min, p50, p90, p99, p99.9, max = %v", ordered)
				}
			}
			if res.Elapsed < cfg.Duration || res.Interrupted || len(res.Lagging) != 0 {
				t.Fatalf("elapsed %s, interrupted %v, lagging %v", res.Elapsed, res.Interrupted, res.Lagging)
			}
			if len(res.Leaders) != nodes || res.Leaders[0] != 1 {
				t.Fatalf("leaders %v: want shard 1 led by node 1", res.Leaders)
			}
			if calls == 0 || res.Settings["logdb"] != raftconf.DefaultLogDB {
				t.Fatalf("progress calls %d, settings %v", calls, res.Settings)
			}
			var text, js bytes.Buffer
			if err := WriteText(&text, res); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text.String(), "proposals applied, 0 failed") {
				t.Fatalf("report:\n%s", text.String())
			}
			if err := WriteJSON(&js, res); err != nil {
				t.Fatal(err)
			}
			var back Result
			if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Proposals != res.Proposals {
				t.Fatalf("JSON %s: %v", js.String(), err)
			}
		})
	}
}

// TestRunKeepsDir checks that a given Dir is used, kept, and refused when
// it already holds data.
func TestRunKeepsDir(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a dragonboat NodeHost")
	}
	dir := t.TempDir()
	cfg := Config{Nodes: 1, Shards: 1, Payload: 1024, InFlight: 1, Duration: 100 * time.Millisecond, Dir: dir}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Dir != dir {
		t.Fatalf("Dir %q, want %q", res.Dir, dir)
	}
	if _, err := os.Stat(dir + "/node1"); err != nil {
		t.Fatalf("data not kept: %v", err)
	}
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Fatalf("second run in the same Dir: err %v", err)
	}
}

// TestRunInterrupted checks that a cancelled context ends the run early
// with the figures so far.
func TestRunInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a dragonboat NodeHost")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg := Config{Nodes: 1, Shards: 1, Payload: 1024, InFlight: 2, Duration: time.Minute}
	cfg.Progress = func(p Progress) {
		if !p.Warmup && !p.Done {
			cancel()
		}
	}
	start := time.Now()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.Elapsed > 10*time.Second || time.Since(start) > 20*time.Second {
		t.Fatalf("interrupted %v after %s", res.Interrupted, res.Elapsed)
	}
}

// TestRunIdle runs 20 idle shards on three nodes, with and without
// quiesce, and checks that an idle run proposes nothing and reports its CPU
// and heap per replica.
func TestRunIdle(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dragonboat NodeHosts")
	}
	for _, quiesce := range []bool{false, true} {
		t.Run(fmt.Sprintf("quiesce=%v", quiesce), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cfg := Config{Nodes: 3, Shards: 20, Idle: true, Quiesce: quiesce, Duration: time.Second, Warmup: 100 * time.Millisecond}
			res, err := Run(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Idle || res.Proposals != 0 || res.Failed != 0 || res.Interrupted || res.Elapsed < cfg.Duration {
				t.Fatalf("idle run: %+v", res)
			}
			if res.CPUCores >= 0 && (res.IdleCPUCoresPerNode <= 0 || res.IdleCPUCoresPerNode > res.CPUCores) {
				t.Fatalf("cpu %.3f cores, %.3f per node", res.CPUCores, res.IdleCPUCoresPerNode)
			}
			// Each replica holds at least its dragonboat queues (tens of KB).
			if res.HeapPerReplicaBytes < 10e3 {
				t.Fatalf("heap per replica %.0f bytes", res.HeapPerReplicaBytes)
			}
			var text bytes.Buffer
			if err := WriteText(&text, res); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"raft idle: 20 shards on 3 nodes", "cores per node", "MB per replica", fmt.Sprintf("quiesce=%v", quiesce)} {
				if !strings.Contains(text.String(), want) {
					t.Fatalf("report lacks %q:\n%s", want, text.String())
				}
			}
		})
	}
}

// TestRunTanShared: the tan-shared yardstick replicates on dragonboat's
// multiplexed tan layout (the linked factory): every replica catches up,
// and the logs on disk are the 16 shared ones ("shard-N"), not one per
// replica ("node-S-R").
func TestRunTanShared(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dragonboat NodeHosts")
	}
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Nodes, cfg.Shards, cfg.Payload, cfg.InFlight = 3, 2, 4<<10, 4
	cfg.Duration, cfg.Warmup, cfg.Dir = time.Second, 200*time.Millisecond, dir
	cfg.Raft.LogDB = raftconf.LogDBTanShared
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Proposals <= 0 || res.Failed != 0 || len(res.Lagging) != 0 || res.Settings["logdb"] != raftconf.LogDBTanShared {
		t.Fatalf("proposals %d, failed %d, lagging %v, settings %v", res.Proposals, res.Failed, res.Lagging, res.Settings)
	}
	shared, _ := filepath.Glob(filepath.Join(dir, "node1", "*", "*", "tandb", "shard-*"))
	own, _ := filepath.Glob(filepath.Join(dir, "node1", "*", "*", "tandb", "node-*"))
	if len(shared) == 0 || len(own) != 0 {
		t.Fatalf("node1's tan logs: shared %v, per replica %v; want only shared ones", shared, own)
	}
}
