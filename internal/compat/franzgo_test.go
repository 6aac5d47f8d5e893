package compat

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chronik-io/chronik/kafka"
)

// franzGoTests are the franz-go integration tests (pkg/kgo, run against a
// real broker through KGO_SEEDS) run in make test: the group ETL chain that
// found a JoinGroup bug, its transactional twin (GroupTransactSession:
// transactional produce, TxnOffsetCommit, read_committed), producing, and
// consumer corner cases. With
// CHRONIK_FRANZ_GO_TESTS=all (`make kgo-integration`) the whole suite runs
// but for franzGoSkip.
//
// franzGoSkip: what chronik does not serve (OAUTHBEARER), and TestIssue769, which sets its own Dialer and so cannot
// run with KGO_TEST_TLS (kgo refuses a Dialer beside DialTLSConfig).
const franzGoTests = "TestGroupETL|TestTxnEtl|TestGroupSimple|TestSCRAMAuth|TestSCRAMAuthBadCredentials|TestClient_Produce|TestIssue325|TestIssue810|TestIssue865|" +
	"TestAddRemovePartitions|TestPauseIssue489|TestIssueFetchLargerThanBrokerMaxReadBytes|TestPooling|" + franzGoShareTests

// franzGoShareTests are franz-go's share group (KIP-932) tests, run in
// make test (1 broker) and against three brokers in make kgo-integration.
const franzGoShareTests = "TestShareGroup|TestShareGroupOffsetsAdmin|TestShareGroupAckOnClose|TestShareGroupETL"

const franzGoSkip = "OAuth|TestIssue769"

// franzGoTests3 run again against three brokers (RF=3), with fewer
// records, in make kgo-integration: transactions and groups (classic and
// KIP-848) whose coordinators, partition leaders and transaction markers
// are spread over brokers, and share groups, whose partition leaders write
// share state to a share coordinator on another broker.
const franzGoTests3 = "TestTxnEtl|" + franzGoShareTests

// franzGoKillTests3 run twice against one three-broker cluster, with the
// node coordinating the most groups (not the controller) killed in
// between (a crash: no leadership hand-over) and restarted: the second run
// is served by the coordinators that took over, and loaded the first run's
// groups (classic and KIP-848) and share groups.
//
// Killing it in the middle of a run (CHRONIK_FRANZ_GO_KILL=midrun) moves
// live groups too, but fails about 3 runs in 10, classic and KIP-848
// subtests alike: kgo hands a consumer's failed dial to the dead
// coordinator to PollFetches ("unable to join group session: unable to
// dial"), and franz-go's ETL test fails on any poll error. chronik's own
// tests kill the coordinator under live KIP-848 groups
// (kafka TestConsumerGroupCoordinatorFailover, proctest
// TestGroupCoordinatorKill/848).
const franzGoKillTests3 = "TestGroupETL|TestGroupSimple|TestShareGroupETL"

// franzGoKill3 is when a mid-run kill happens, counted from the first
// group's appearance.
const franzGoKill3 = 15 * time.Second

// TestFranzGoIntegration runs franz-go's own integration tests, from the
// module this repository builds against, against a one-node chronik (its
// clients over TLS, its SCRAM tests over SASL_PLAINTEXT), and
// (CHRONIK_FRANZ_GO_TESTS=all) franzGoTests3 against three nodes.
func TestFranzGoIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("franz-go integration tests skipped in -short")
	}
	all := os.Getenv("CHRONIK_FRANZ_GO_TESTS") == "all"
	limit := 7 * time.Minute
	if all {
		limit = 25 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/twmb/franz-go").Output()
	if err != nil {
		t.Fatalf("locate the franz-go module: %v", err)
	}
	// The module cache is read-only; the tests build in a copy.
	src, dir := strings.TrimSpace(string(out)), filepath.Join(t.TempDir(), "franz-go")
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
	// -v everywhere: runFranzGo reads which tests ran, and fails on a
	// skipped share group test (franz-go skips them against a broker
	// without share groups).
	one := []string{"test", "-count=1", "-timeout=4m", "-v", "-run", "^(" + franzGoTests + ")$", "./pkg/kgo/"}
	if run := os.Getenv("CHRONIK_FRANZ_GO_RUN"); run != "" {
		// A developer's narrowed run: franz-go's own -run pattern.
		one = []string{"test", "-count=1", "-timeout=6m", "-v", "-run", run, "./pkg/kgo/"}
	}
	if all {
		one = []string{"test", "-count=1", "-timeout=18m", "-v", "-skip", franzGoSkip, "./pkg/kgo/"}
	}
	records := "10000" // per ETL chain; the whole suite takes more
	if all {
		records = "20000"
	}
	t.Run("1 broker", func(t *testing.T) {
		// Every client over TLS (KGO_TEST_TLS) to the SSL listener; the
		// SCRAM tests to the SASL_PLAINTEXT one.
		sb := startSecureBroker(t)
		runFranzGo(ctx, t, dir, []string{sb.addrs["SSL"]}, one, "KGO_TEST_RF=1", "KGO_TEST_RECORDS="+records,
			"KGO_TEST_TLS=ca:"+sb.caFile, "KGO_TEST_SCRAM="+sb.user+":"+sb.pass+":512", "KGO_TEST_SCRAM_SEEDS="+sb.addrs["SASL_PLAINTEXT"])
	})
	t.Run("3 brokers", func(t *testing.T) {
		if !all && os.Getenv("CHRONIK_FRANZ_GO_RUN3") == "" {
			t.Skip("franz-go's tests against 3 brokers run in make kgo-integration (CHRONIK_FRANZ_GO_TESTS=all)")
		}
		run := func(tests string) []string {
			return []string{"test", "-count=1", "-timeout=4m", "-v", "-run", "^(" + tests + ")$", "./pkg/kgo/"}
		}
		groups := kafka.GroupConfig{ConsumerHeartbeatInterval: time.Second}
		env := []string{"KGO_TEST_RF=3", "KGO_TEST_RECORDS=5000"}
		midrun := os.Getenv("CHRONIK_FRANZ_GO_KILL") == "midrun"
		if only := os.Getenv("CHRONIK_FRANZ_GO_RUN3"); only != "" {
			// A developer's narrowed run.
			kc := startKillableCluster(t, 3, groups)
			if midrun {
				runFranzGoKilling(ctx, t, kc, dir, run(only), env...)
				return
			}
			runFranzGoKillBetween(ctx, t, kc, dir, run(only), env...)
			return
		}
		runFranzGo(ctx, t, dir, startKillableCluster(t, 3, groups).brokers, run(franzGoTests3), env...)
		// A fresh cluster: a mid-run kill is timed from its first group.
		if midrun {
			runFranzGoKilling(ctx, t, startKillableCluster(t, 3, groups), dir, run(franzGoKillTests3), env...)
			return
		}
		runFranzGoKillBetween(ctx, t, startKillableCluster(t, 3, groups), dir, run(franzGoKillTests3), env...)
	})
}

// runFranzGoKillBetween runs the franz-go tests of args against kc, kills
// the coordinator of the most groups, restarts it, and runs them again.
func runFranzGoKillBetween(ctx context.Context, t *testing.T, kc *killableCluster, dir string, args []string, env ...string) {
	t.Helper()
	runFranzGo(ctx, t, dir, kc.brokers, args, env...)
	n := kc.coordinator()
	if n == 0 {
		t.Fatal("no node coordinates a group after the first run")
	}
	kc.kill(n)
	time.Sleep(time.Second)
	if err := kc.restart(n); err != nil {
		t.Fatalf("restart the killed node %d: %v", n, err)
	}
	t.Logf("node %d, the coordinator of the most groups, was killed and restarted; running again", n)
	runFranzGo(ctx, t, dir, kc.brokers, args, env...)
}

// runFranzGoKilling is runFranzGo against kc, killing the coordinator of
// the most groups franzGoKill3 after the first group appears and
// restarting it a second later; the test fails if nothing was killed.
func runFranzGoKilling(ctx context.Context, t *testing.T, kc *killableCluster, dir string, args []string, env ...string) {
	t.Helper()
	stop := make(chan struct{})
	var killed int
	var killErr error
	done := make(chan struct{})
	go func() { defer close(done); killed, killErr = kc.killAfter(franzGoKill3, time.Second, stop) }()
	defer func() {
		close(stop)
		<-done
		switch {
		case killErr != nil:
			t.Errorf("restart the killed node %d: %v", killed, killErr)
		case killed == 0:
			t.Errorf("no coordinator was killed within the run (%v after the first group)", franzGoKill3)
		default:
			t.Logf("node %d, the coordinator of the most groups, was killed %v after the first group appeared and restarted a second later", killed, franzGoKill3)
		}
	}()
	runFranzGo(ctx, t, dir, kc.brokers, args, env...)
}

// runFranzGo runs `go` with args in the franz-go copy dir against seeds.
func runFranzGo(ctx context.Context, t *testing.T, dir string, seeds []string, args []string, env ...string) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "KGO_SEEDS="+strings.Join(seeds, ",")), env...)
	start := time.Now()
	res, err := cmd.CombinedOutput()
	if f := os.Getenv("CHRONIK_FRANZ_GO_LOG"); f != "" {
		_ = os.WriteFile(f, res, 0o644) // a developer's copy of the whole output
	}
	if err != nil {
		var failed []string
		for _, l := range strings.Split(string(res), "\n") {
			// The failed tests, and what the tests reported (not their
			// clients' log lines, which start with "[").
			tl := strings.TrimSpace(l)
			if strings.Contains(l, "--- FAIL") || strings.Contains(l, "panic:") ||
				(strings.Contains(tl, "_test.go:") && !strings.HasPrefix(tl, "[") && !strings.Contains(tl, "deleting") && !strings.Contains(tl, "completed in")) {
				failed = append(failed, tl)
			}
		}
		t.Fatalf("franz-go integration tests failed (%v): %v\n%s\n\nlast output:\n%s", err, time.Since(start).Round(time.Second),
			strings.Join(failed, "\n"), tail(string(res), 4000))
	}
	// Which tests ran (every run is -v). A skipped share group test means
	// franz-go found no share group support: a failure here.
	for _, l := range strings.Split(string(res), "\n") {
		tl := strings.TrimSpace(l)
		if !strings.HasPrefix(tl, "--- ") {
			continue
		}
		t.Log(tl)
		if strings.HasPrefix(tl, "--- SKIP: TestShareGroup") {
			t.Errorf("franz-go skipped a share group test: %s", tl)
		}
	}
	t.Logf("franz-go integration tests passed in %v", time.Since(start).Round(time.Second))
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
