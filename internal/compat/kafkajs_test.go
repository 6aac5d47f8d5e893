package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chronik-io/chronik/bench"
)

// kafkajsResult is what testdata/kafkajs/compat.js prints.
type kafkajsResult struct {
	ProducedA, ProducedB []rec
	Ends, Committed      map[int32]int64
	GroupA, GroupB       []rec
}

// TestKafkaJS runs testdata/kafkajs/compat.js (kafkajs pinned by its
// package-lock.json) on a 1-node and a 3-node cluster: admin createTopics, an
// idempotent acks=all producer per codec kafkajs ships or has a pure-JS
// codec for (none, gzip, snappy), fetchTopicOffsets, a consumer group that
// commits, fetchOffsets, and a restarted group resuming from the committed
// offsets; beside it, on the same cluster, testdata/kafkajs/txn.js: a
// transactional producer and a read_committed consumer (runKafkaJSTxn);
// and testdata/kafkajs/sasl.js with SCRAM-SHA-256 on a cluster that
// requires SASL (runKafkaJSSASL). It
// needs node and npm (and the npm registry for npm ci); without them it is
// skipped, unless CI=true.
func TestKafkaJS(t *testing.T) {
	t.Parallel() // mostly waiting: group joins wait out the initial rebalance delay
	if testing.Short() {
		t.Skip("kafkajs skipped in -short")
	}
	node, errNode := exec.LookPath("node")
	npm, errNpm := exec.LookPath("npm")
	if errNode != nil || errNpm != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node (%v) and npm (%v) are required when CI=true", errNode, errNpm)
		}
		t.Skipf("kafkajs compatibility test needs node and npm on PATH: node: %v, npm: %v", errNode, errNpm)
	}
	dir := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json", "compat.js", "txn.js", "sasl.js"} {
		b, err := os.ReadFile(filepath.Join("testdata", "kafkajs", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm ci: %v\n%s", err, out)
	}

	t.Run("sasl", func(t *testing.T) {
		t.Parallel()
		runKafkaJSSASL(t, node, dir)
	})
	for _, nodes := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d-node", nodes), func(t *testing.T) {
			t.Parallel()
			c := startCluster(t, nodes)
			t.Run("cycle", func(t *testing.T) {
				t.Parallel()
				runKafkaJS(t, node, dir, c, nodes)
			})
			t.Run("txn", func(t *testing.T) {
				t.Parallel()
				runKafkaJSTxn(t, node, dir, c, nodes)
			})
		})
	}
}

// runKafkaJS runs compat.js from dir against c, a cluster of n brokers,
// and checks what it saw.
func runKafkaJS(t *testing.T, node, dir string, c *bench.Cluster, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := exec.CommandContext(ctx, node, "compat.js")
	run.Dir = dir
	run.Env = append(os.Environ(), "CHRONIK_BROKERS="+strings.Join(c.Brokers(), ","), fmt.Sprintf("CHRONIK_TOPIC=kafkajs-%dn", n))
	var stdout, stderr bytes.Buffer
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Run(); err != nil {
		t.Fatalf("node compat.js: %v\n%s", err, stderr.String())
	}
	var res kafkajsResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("decode compat.js output: %v\n%s", err, stdout.String())
	}
	var total int64
	for _, e := range res.Ends {
		total += e
	}
	if len(res.Ends) != partitions || total != int64(len(res.ProducedA)) {
		t.Errorf("fetchTopicOffsets: ends %v, want %d partitions holding %d records", res.Ends, partitions, len(res.ProducedA))
	}
	checkRecs(t, "group consumer", res.ProducedA, res.GroupA)
	for p, e := range res.Ends {
		if res.Committed[p] != e {
			t.Errorf("committed offset of partition %d: %d, want %d", p, res.Committed[p], e)
		}
	}
	checkRecs(t, "restarted group consumer", res.ProducedB, res.GroupB)
	for _, r := range res.GroupB {
		if r.Offset < res.Ends[r.Partition] {
			t.Errorf("restarted group consumer read %d/%d, before the committed offset %d", r.Partition, r.Offset, res.Ends[r.Partition])
			break
		}
	}
}
