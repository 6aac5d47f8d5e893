package proctest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chronik-io/chronik/bench"
	"github.com/chronik-io/chronik/internal/testcluster"
)

// The fault suite: three `chronik start` processes whose Raft links each go
// through a proxy in the test process, loaded by bench.Verify (numbered
// records, acks=all, idempotent producer) while one scenario breaks the
// cluster, then read back by Verify, which counts acknowledged records
// lost, duplicated or inconsistent. Every scenario must end with 0 of each.
//
// `make test` runs each scenario once with a 7 s load; `make test-faults`
// sets CHRONIK_FAULTS=full for a 60 s load (CHRONIK_FAULTS_DURATION
// overrides it) and CHRONIK_FAULTS_RUNS runs of each. With
// CHRONIK_FAULTS_REPORT=FILE every run appends one JSON line to FILE, the
// figures docs/RELIABILITY.md tabulates.

// faultScenario is one way of breaking the cluster.
type faultScenario struct {
	name string
	// rebuilds: the scenario damages replicas, which the brokers must
	// find and rebuild from their leaders.
	rebuilds bool
	// inject breaks the cluster repeatedly until ctx ends. Whatever it
	// leaves broken is repaired by faultRun.repair afterwards.
	inject func(ctx context.Context, f *faultRun)
}

var faultScenarios = []faultScenario{
	{"kill-random-broker", false, func(ctx context.Context, f *faultRun) {
		for f.pause(ctx, 2*time.Second) {
			id := 1 + rand.IntN(3)
			f.kill(id)
			f.pause(ctx, 2*time.Second)
			f.restart(id)
		}
	}},
	{"kill-meta-leader", false, func(ctx context.Context, f *faultRun) {
		for f.pause(ctx, 2*time.Second) {
			id := f.controller(ctx)
			if id == 0 {
				continue
			}
			f.kill(id)
			f.pause(ctx, 3*time.Second)
			f.restart(id)
		}
	}},
	{"sigstop-leader", false, func(ctx context.Context, f *faultRun) {
		// Longer than the election timeout (1 s): the others elect new
		// leaders while the stopped one still believes it leads.
		for f.pause(ctx, 2*time.Second) {
			id := f.busiestLeader(ctx)
			f.signal(id, syscall.SIGSTOP)
			f.pause(ctx, 3*time.Second)
			f.signal(id, syscall.SIGCONT)
		}
	}},
	{"isolate-leader", false, func(ctx context.Context, f *faultRun) {
		// Every Raft link to and from the leader of most partitions is
		// cut; clients still reach it over Kafka.
		for f.pause(ctx, 2*time.Second) {
			id := f.busiestLeader(ctx)
			f.isolate(id)
			f.pause(ctx, 4*time.Second)
			f.heal()
		}
	}},
	{"cut-leader-outbound", false, func(ctx context.Context, f *faultRun) {
		// The leader hears its followers but cannot reach them: the
		// majority splits from the old leader one way only.
		for f.pause(ctx, 2*time.Second) {
			id := f.busiestLeader(ctx)
			for to := 1; to <= 3; to++ {
				if to != id {
					f.cut(id, to)
				}
			}
			f.pause(ctx, 4*time.Second)
			f.heal()
		}
	}},
	{"truncate-active-tail", false, func(ctx context.Context, f *faultRun) {
		// A torn write at a crash: the broker's active segments lose the
		// last bytes of their last frame while it is down.
		for f.pause(ctx, 2*time.Second) {
			id := 1 + rand.IntN(3)
			f.kill(id)
			f.damageSegment(id, "truncate the active segment", true, func(path string, size int64) error {
				return os.Truncate(path, max(0, size-1-rand.Int64N(300)))
			})
			f.restart(id)
		}
	}},
	{"bitflip-sealed", true, func(ctx context.Context, f *faultRun) {
		// Bad luck on disk: one byte of a sealed segment of every replica
		// on a broker flips while it is down. The damage is found when the
		// replica is read (as a leader, or for the final checksums), the
		// replica is quarantined and rebuilt from the leader.
		for f.pause(ctx, 3*time.Second) {
			id := 1 + rand.IntN(3)
			f.kill(id)
			f.damageSegment(id, "flip a byte of a sealed segment", false, flipMiddleByte)
			f.restart(id)
			f.awaitRepaired(id)
		}
	}},
	{"bitflip-active", true, func(ctx context.Context, f *faultRun) {
		// One byte in the middle of the active segment flips while the
		// broker is down: its start-time check finds it and the replica is
		// rebuilt from the leader instead of failing the broker.
		for f.pause(ctx, 3*time.Second) {
			id := 1 + rand.IntN(3)
			f.kill(id)
			f.damageSegment(id, "flip a byte of the active segment", true, flipMiddleByte)
			f.restart(id)
			f.awaitRepaired(id)
		}
	}},
	{"kill-all", false, func(ctx context.Context, f *faultRun) {
		// Power loss: every acknowledged record was fsynced by a quorum,
		// so none may be missing after all three restart.
		for f.pause(ctx, 3*time.Second) {
			for id := 1; id <= 3; id++ {
				f.kill(id)
			}
			for id := 1; id <= 3; id++ {
				f.restart(id)
			}
		}
	}},
}

// fullFaults reports whether the full-length fault suite runs
// (CHRONIK_FAULTS=full, make test-faults): longer loads, more runs, and the
// variants make test leaves out of the other process-level tests.
func fullFaults() bool { return os.Getenv("CHRONIK_FAULTS") == "full" }

func TestFaults(t *testing.T) {
	load, runs := 7*time.Second, 1
	if fullFaults() {
		load = 60 * time.Second
	}
	if v := os.Getenv("CHRONIK_FAULTS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("CHRONIK_FAULTS_DURATION %q: %v", v, err)
		}
		load = d
	}
	if v := os.Getenv("CHRONIK_FAULTS_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("CHRONIK_FAULTS_RUNS %q: want a count >= 1", v)
		}
		runs = n
	}
	for _, sc := range faultScenarios {
		for run := 1; run <= runs; run++ {
			t.Run(fmt.Sprintf("%s/run=%d", sc.name, run), func(t *testing.T) {
				if !fullFaults() {
					// The short runs of make test go two at a time (each
					// cluster has its own ports, directories and
					// proxies): they check for loss, not stall lengths.
					// make test-faults runs one at a time, for the figures.
					t.Parallel()
				}
				testFault(t, sc, load)
			})
		}
	}
}

// debugFileLogger appends debug-level logs, with millisecond times, to the
// file at path (CHRONIK_FAULTS_KGO_LOG: the verify load's franz-go view of a
// failover), closed when t ends.
func debugFileLogger(t *testing.T, path string) *slog.Logger {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { f.Close() })
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testFault runs one scenario under a Verify load of the given length.
func testFault(t *testing.T, sc faultScenario, load time.Duration) {
	f := newFaultRun(t)
	f.c.waitReady(60*time.Second, 1, 2, 3)

	cfg := bench.DefaultVerifyConfig()
	cfg.Brokers = f.c.kafkaAddrs()
	cfg.Topic = "faults"
	cfg.Partitions = 6
	cfg.ReplicationFactor = 3
	cfg.Duration = load
	cfg.Rate = 1000
	cfg.ReadTimeout = 90 * time.Second
	if path := os.Getenv("CHRONIK_FAULTS_KGO_LOG"); path != "" {
		cfg.Logger = debugFileLogger(t, path)
	}
	// Small segments, so every replica has sealed segments as well as an
	// active one when the faults hit.
	segBytes := "65536"
	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	resp, err := admin(t, f.c.kafkaAddrs()).CreateTopic(cctx, cfg.Partitions, cfg.ReplicationFactor,
		map[string]*string{"segment.bytes": &segBytes}, cfg.Topic)
	ccancel()
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic %s: %v %v", cfg.Topic, err, resp.Err)
	}
	type outcome struct {
		res bench.VerifyResult
		err error
	}
	done := make(chan outcome, 1)
	ctx, cancel := context.WithTimeout(context.Background(), load+5*time.Minute)
	defer cancel()
	go func() {
		res, err := bench.Verify(ctx, cfg)
		done <- outcome{res, err}
	}()
	// Faults start once the topic exists and records flow, and stop 3 s
	// before the load ends, so the last records meet a repaired cluster.
	f.waitTopic(ctx, cfg.Topic, cfg.Partitions)
	ictx, icancel := context.WithTimeout(ctx, load-3*time.Second)
	sc.inject(ictx, f)
	icancel()
	f.repair()

	var out outcome
	select {
	case out = <-done:
	case <-ctx.Done():
		t.Fatalf("verify did not finish within %v", load+5*time.Minute)
	}
	if out.err != nil {
		t.Fatalf("verify: %v", out.err)
	}
	r := out.res
	tot := r.Totals
	t.Logf("%s: %d faults (%s); load %.1fs: acked %d, lost %d, duplicated %d, inconsistent %d, unknown %d, longest stall %v",
		sc.name, len(f.events), strings.Join(f.events, ", "), r.Load.Seconds(), tot.Acked, tot.Lost, tot.Duplicated,
		tot.Inconsistent, tot.Unknown, r.LongestStall.Round(time.Millisecond))
	f.report(sc.name, r)
	if !r.OK() || tot.Lost != 0 || tot.Duplicated != 0 || tot.Inconsistent != 0 || tot.Unverified != 0 || tot.Corrupt != 0 {
		t.Errorf("%s: the check failed: %v; findings: %+v; read errors: %+v", sc.name, r.Problems(), r.Findings, r.ReadErrors)
	}
	if tot.Acked == 0 {
		t.Errorf("%s: nothing was acknowledged", sc.name)
	}
	if len(f.events) == 0 {
		t.Errorf("%s: no fault was injected", sc.name)
	}
	f.checkReplicasEqual(cfg.Topic)
	if sc.rebuilds {
		rebuilt := 0.0
		for id := 1; id <= 3; id++ {
			v, err := f.c.metric(id, "chronik_replicas_rebuilt_total")
			if err != nil {
				t.Errorf("broker %d: %v", id, err)
			}
			rebuilt += v
		}
		t.Logf("%s: %.0f replicas rebuilt", sc.name, rebuilt)
		if rebuilt == 0 {
			t.Errorf("%s: damaged replicas, and no broker rebuilt one", sc.name)
		}
	}
}

// checkReplicasEqual waits until every replica of topic holds the same
// high watermark and checksum as the others (followers catch up after the
// load), and fails the test if they still differ after 60 s.
func (f *faultRun) checkReplicasEqual(topic string) {
	type state struct {
		hw  int64
		crc uint32
	}
	var last string
	deadline := time.Now().Add(60 * time.Second)
	for {
		byPart := map[int32][]state{}
		var err error
		for id := 1; id <= 3 && err == nil; id++ {
			var rs []replica
			rs, err = f.c.replicas(id, true)
			for _, r := range rs {
				if r.Topic == topic {
					byPart[r.Partition] = append(byPart[r.Partition], state{r.HighWatermark, r.Checksum})
				}
			}
		}
		diff := ""
		for p, ss := range byPart {
			if len(ss) != 3 || ss[0] != ss[1] || ss[0] != ss[2] {
				diff += fmt.Sprintf(" p%d=%v", p, ss)
			}
		}
		if err == nil && diff == "" && len(byPart) > 0 {
			return
		}
		if err != nil {
			last = err.Error()
		} else {
			last = diff
		}
		if time.Now().After(deadline) {
			f.t.Errorf("replicas of %s differ 60 s after the load:%s", topic, last)
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// damageSegment applies damage to one segment file of every replica of the
// fault topic on broker id, which must be down: the active (last) segment,
// or else the newest sealed one (replicas with no sealed segment are left
// alone).
func (f *faultRun) damageSegment(id int, what string, active bool, damage func(path string, size int64) error) {
	dirs, err := filepath.Glob(filepath.Join(f.c.broker(id).dir, "partitions", "faults-*"))
	if err != nil || len(dirs) == 0 {
		f.t.Errorf("broker %d: no replica directories of the fault topic (%v)", id, err)
		return
	}
	n := 0
	for _, d := range dirs {
		if strings.Contains(filepath.Base(d), ".quarantined-") {
			continue
		}
		logs, _ := filepath.Glob(filepath.Join(d, "*.log"))
		sort.Strings(logs) // zero-padded base offsets: the last is the active segment
		i := len(logs) - 1
		if !active {
			i--
		}
		if i < 0 {
			continue
		}
		st, err := os.Stat(logs[i])
		if err != nil {
			f.t.Errorf("broker %d: %v", id, err)
			continue
		}
		if err := damage(logs[i], st.Size()); err != nil {
			f.t.Errorf("broker %d: %s %s: %v", id, what, logs[i], err)
			continue
		}
		n++
	}
	f.event("%s: %d replicas of %d", what, n, id)
}

// awaitRepaired reads every replica on broker id in full (the checksums
// of /v1/partitions), so that damage no check at start could see is found
// now, and waits until no broker has a quarantined replica left: one
// damaged broker at a time is the minority the cluster must survive, and
// damaging another before the first is rebuilt would take two of three
// copies of a partition.
func (f *faultRun) awaitRepaired(id int) {
	if _, err := f.c.replicas(id, true); err != nil {
		f.t.Errorf("broker %d: read every replica: %v", id, err)
	}
	time.Sleep(time.Second) // a damaged frame read is handed to the quarantine asynchronously
	waitFor(f.t, 90*time.Second, "every damaged replica rebuilt", func() bool {
		for b := 1; b <= 3; b++ {
			if v, err := f.c.metric(b, "chronik_quarantined_replicas"); err != nil || v != 0 || !f.c.ready(b) {
				return false
			}
		}
		return true
	})
}

// flipMiddleByte inverts one byte in the middle of a file.
func flipMiddleByte(path string, size int64) error {
	if size < 2 {
		return nil
	}
	fh, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer fh.Close()
	b := make([]byte, 1)
	pos := size / 2
	if _, err := fh.ReadAt(b, pos); err != nil {
		return err
	}
	b[0] ^= 0xff
	if _, err := fh.WriteAt(b, pos); err != nil {
		return err
	}
	return fh.Sync()
}

// faultRun is one scenario's cluster and what was done to it.
type faultRun struct {
	t       *testing.T
	c       *cluster
	links   map[[2]int]*testcluster.LinkProxy // (from, to) -> proxy
	down    map[int]bool                      // killed, not restarted
	stopped map[int]bool                      // SIGSTOPped
	events  []string
	started time.Time
}

// newFaultRun starts three brokers, each Raft link (from, to) through its
// own proxy: broker i's --peers names the proxies for its links.
func newFaultRun(t *testing.T) *faultRun {
	c := newCluster(t, 3)
	f := &faultRun{t: t, c: c, links: map[[2]int]*testcluster.LinkProxy{}, down: map[int]bool{}, stopped: map[int]bool{}}
	c.peersOf = map[int]string{}
	for from := 1; from <= 3; from++ {
		var peers []string
		for to := 1; to <= 3; to++ {
			addr := c.broker(to).raft
			if to != from {
				p, err := testcluster.NewLinkProxy(addr)
				if err != nil {
					t.Fatal(err)
				}
				f.links[[2]int{from, to}] = p
				addr = p.Addr()
			}
			peers = append(peers, fmt.Sprintf("%d@%s", to, addr))
		}
		c.peersOf[from] = strings.Join(peers, ",")
	}
	// Cleanups run last-in first-out: continue stopped brokers before the
	// cluster's SIGTERM, close the proxies after the brokers.
	t.Cleanup(func() {
		for _, p := range f.links {
			p.Close()
		}
	})
	for id := 1; id <= 3; id++ {
		c.start(id)
	}
	t.Cleanup(func() {
		for id := range f.stopped {
			f.signal(id, syscall.SIGCONT)
		}
	})
	f.started = time.Now()
	return f
}

// pause waits d or until ctx ends; it reports whether ctx is still live.
func (f *faultRun) pause(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func (f *faultRun) event(format string, args ...any) {
	f.events = append(f.events, fmt.Sprintf("%.1fs ", time.Since(f.started).Seconds())+fmt.Sprintf(format, args...))
}

func (f *faultRun) kill(id int) {
	if f.down[id] {
		return
	}
	f.event("kill -9 %d", id)
	f.c.kill(id)
	f.down[id] = true
}

func (f *faultRun) restart(id int) {
	if !f.down[id] {
		return
	}
	f.c.start(id)
	f.c.waitReady(60*time.Second, id)
	delete(f.down, id)
}

func (f *faultRun) signal(id int, sig syscall.Signal) {
	if f.down[id] {
		return
	}
	if sig == syscall.SIGSTOP {
		f.event("SIGSTOP %d", id)
		f.stopped[id] = true
	} else if sig == syscall.SIGCONT {
		delete(f.stopped, id)
	}
	if err := f.c.broker(id).cmd.Process.Signal(sig); err != nil {
		f.t.Errorf("signal %v to broker %d: %v", sig, id, err)
	}
}

// cut cuts the Raft link from one broker to another.
func (f *faultRun) cut(from, to int) {
	f.event("cut %d->%d", from, to)
	f.links[[2]int{from, to}].SetCut(true)
}

// isolate cuts every Raft link to and from id.
func (f *faultRun) isolate(id int) {
	f.event("isolate %d", id)
	for k, p := range f.links {
		if k[0] == id || k[1] == id {
			p.SetCut(true)
		}
	}
}

func (f *faultRun) heal() {
	for _, p := range f.links {
		p.SetCut(false)
	}
}

// repair undoes whatever a scenario left broken and waits until every
// broker is ready again.
func (f *faultRun) repair() {
	f.heal()
	for id := range f.stopped {
		f.signal(id, syscall.SIGCONT)
	}
	for id := range f.down {
		f.restart(id)
	}
	f.c.waitReady(60*time.Second, 1, 2, 3)
}

// live returns the Kafka addresses of the brokers that are running and not
// stopped.
func (f *faultRun) live() []string {
	var ids []int
	for id := 1; id <= 3; id++ {
		if !f.down[id] && !f.stopped[id] {
			ids = append(ids, id)
		}
	}
	return f.c.kafkaAddrs(ids...)
}

// controller returns the broker leading __meta, 0 if unknown.
func (f *faultRun) controller(ctx context.Context) int {
	mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	md, err := admin(f.t, f.live()).BrokerMetadata(mctx)
	if err != nil || md.Controller < 1 {
		return 0
	}
	return int(md.Controller)
}

// busiestLeader returns the broker leading most partitions of the topic
// under load (a random live broker if Metadata cannot say).
func (f *faultRun) busiestLeader(ctx context.Context) int {
	mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ls, err := leaders(mctx, admin(f.t, f.live()), "faults")
	if err == nil && len(ls) > 0 {
		if id := mostLeader(ls); id > 0 {
			return int(id)
		}
	}
	return 1 + rand.IntN(3)
}

// waitTopic waits until Verify has created the topic and every partition
// has a leader.
func (f *faultRun) waitTopic(ctx context.Context, topic string, partitions int32) {
	adm := admin(f.t, f.c.kafkaAddrs())
	waitFor(f.t, 60*time.Second, "the verify topic has a leader for every partition", func() bool {
		ls, err := leaders(ctx, adm, topic)
		if err != nil || len(ls) != int(partitions) {
			return false
		}
		for _, l := range ls {
			if l < 1 {
				return false
			}
		}
		return true
	})
}

// report appends the run's figures to CHRONIK_FAULTS_REPORT, if set.
func (f *faultRun) report(scenario string, r bench.VerifyResult) {
	path := os.Getenv("CHRONIK_FAULTS_REPORT")
	if path == "" {
		return
	}
	line, err := json.Marshal(map[string]any{
		"scenario": scenario, "faults": len(f.events), "load_s": r.Load.Seconds(),
		"acked": r.Totals.Acked, "lost": r.Totals.Lost, "duplicated": r.Totals.Duplicated,
		"inconsistent": r.Totals.Inconsistent, "unknown": r.Totals.Unknown,
		"longest_stall_ms": r.LongestStall.Milliseconds(), "ok": r.OK(),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		f.t.Fatalf("fault report: %v", err)
	}
	defer fh.Close()
	if _, err := fh.Write(append(line, '\n')); err != nil {
		f.t.Fatalf("fault report: %v", err)
	}
}
