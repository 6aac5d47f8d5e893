package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chronik-io/chronik/bench"
)

// kafkajsTxnResult is what testdata/kafkajs/txn.js prints.
type kafkajsTxnResult struct {
	Committed, Aborted, Read []rec
	Ends                     map[int32]int64
	GroupOffsets             map[int32]int64
}

// runKafkaJSTxn runs txn.js from dir against c, a cluster of n brokers:
// kafkajs' transactional producer commits a transaction over every
// partition, aborts one and commits another, and its read_committed
// consumer must read exactly the committed records. The aborted and the
// last transaction also send consumer offsets (transaction.sendOffsets),
// and only the committed ones must be the group's.
func runKafkaJSTxn(t *testing.T, node, dir string, c *bench.Cluster, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := exec.CommandContext(ctx, node, "txn.js")
	run.Dir = dir
	run.Env = append(os.Environ(), "CHRONIK_BROKERS="+strings.Join(c.Brokers(), ","),
		fmt.Sprintf("CHRONIK_TOPIC=kafkajs-txn-%dn", n))
	var stdout, stderr bytes.Buffer
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Run(); err != nil {
		t.Fatalf("node txn.js: %v\n%s", err, stderr.String())
	}
	var res kafkajsTxnResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("decode txn.js output: %v\n%s", err, stdout.String())
	}

	// Exactly the committed records, each where it was sent, in offset
	// order per partition.
	want := map[string]rec{}
	for _, r := range res.Committed {
		want[r.Value] = r
	}
	last := map[int32]int64{}
	var got []string
	for _, r := range res.Read {
		got = append(got, r.Value)
		if w, ok := want[r.Value]; ok && (w.Partition != r.Partition || w.Key != r.Key) {
			t.Errorf("read %q (key %q) from partition %d, sent to %d (key %q)", r.Value, r.Key, r.Partition, w.Partition, w.Key)
		}
		if l, ok := last[r.Partition]; ok && r.Offset <= l {
			t.Errorf("partition %d: offset %d after %d", r.Partition, r.Offset, l)
		}
		last[r.Partition] = r.Offset
	}
	var wantValues []string
	for v := range want {
		wantValues = append(wantValues, v)
	}
	sort.Strings(got)
	sort.Strings(wantValues)
	if strings.Join(got, " ") != strings.Join(wantValues, " ") {
		t.Errorf("read_committed consumer read %v, want exactly the committed %v", got, wantValues)
	}

	// Every partition holds the three transactions' records and their
	// three markers.
	markers := int64(3)
	for p, e := range res.Ends {
		var recs int64
		for _, r := range append(append([]rec{}, res.Committed...), res.Aborted...) {
			if r.Partition == p {
				recs++
			}
		}
		if e != recs+markers {
			t.Errorf("partition %d: high watermark %d, want %d records and %d markers", p, e, recs, markers)
		}
	}

	for p := int32(0); p < partitions; p++ { // txn.js commits offset 10+p, after aborting 100+p
		if o, ok := res.GroupOffsets[p]; !ok || o != 10+int64(p) {
			t.Errorf("offset committed by sendOffsets for partition %d: %d (listed %v), want %d", p, o, ok, 10+p)
		}
	}
}
