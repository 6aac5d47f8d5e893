package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/chronik-io/chronik/bench"
)

// runApp runs the chronik command line with args and returns its stdout.
func runApp(t *testing.T, args ...string) (string, error) {
	t.Helper()
	app := App()
	var out, errOut bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errOut
	err := app.Run(append([]string{"chronik"}, args...))
	if errOut.Len() > 0 {
		t.Logf("stderr: %s", errOut.String())
	}
	return out.String(), err
}

func TestBenchFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown codec", []string{"--compression", "brotli"}, `Compression "brotli": unknown codec`},
		{"bad size", []string{"--record-size", "1.5MiB"}, `--record-size: size "1.5MiB"`},
		{"negative size", []string{"--batch-max-bytes", "-1"}, "--batch-max-bytes"},
		{"zero batch", []string{"--batch-max-bytes", "0B"}, "BatchMaxBytes 0"},
		{"record over max", []string{"--record-size", "1GiB"}, "RecordSize 16777217"},
		{"acks", []string{"--acks", "2"}, `Acks "2"`},
		{"keys", []string{"--keys", "uuid"}, `Keys "uuid"`},
		{"partitions", []string{"--partitions", "3000000000"}, "--partitions 3000000000: out of range"},
		{"nodes without embedded", []string{"--nodes", "3"}, "--nodes, --dir and --logdb need --embedded"},
		{"logdb without embedded", []string{"--logdb", "tan"}, "--nodes, --dir and --logdb need --embedded"},
		{"brokers and embedded", []string{"--embedded"}, "--brokers and --embedded exclude each other"},
		{"log level", []string{"--log-level", "loud"}, `--log-level "loud"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Port 1 on loopback: nothing must be dialled before validation fails.
			args := append([]string{"bench", "produce", "--brokers", "127.0.0.1:1", "-q"}, tc.args...)
			_, err := runApp(t, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := runApp(t, "bench", "produce", "-q", "--embedded", "--nodes", "50"); err == nil || !strings.Contains(err.Error(), "Nodes 50") {
		t.Fatalf("--nodes 50: err %v", err)
	}
	if _, err := runApp(t, "bench", "produce", "-q", "--embedded", "--logdb", "rocks"); err == nil || !strings.Contains(err.Error(), `LogDB "rocks"`) {
		t.Fatalf("--logdb rocks: err %v", err)
	}
	if _, err := runApp(t, "bench", "consume", "--brokers", "127.0.0.1:1", "-q", "--records", "0"); err == nil ||
		!strings.Contains(err.Error(), "Records 0 and Duration 0") {
		t.Fatalf("consume --records 0: err %v", err)
	}
}

// TestBenchEmbeddedProduceThenConsume runs the two commands a user would:
// `bench produce --embedded --nodes 1 --records 20000` and then `bench
// consume` of the same cluster (restarted from its --dir).
func TestBenchEmbeddedProduceThenConsume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a chronik broker twice")
	}
	dir := t.TempDir()
	out, err := runApp(t, "bench", "produce", "--embedded", "--nodes", "1", "--dir", dir,
		"--records", "20000", "--record-size", "512", "--partitions", "2", "--json", "-q")
	if err != nil {
		t.Fatalf("bench produce: %v\n%s", err, out)
	}
	var p bench.Result
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("produce JSON: %v\n%s", err, out)
	}
	if p.Sent != 20000 || p.Acked != 20000 || p.Failed != 0 {
		t.Fatalf("produce sent %d acked %d failed %d, want 20000/20000/0: %v", p.Sent, p.Acked, p.Failed, p.Errors)
	}
	if l := p.Latency; !(l.P50 <= l.P99 && l.P99 <= l.Max) || l.Count != 20000 {
		t.Errorf("produce latency %+v: want 20000 samples, p50 <= p99 <= max", l)
	}
	if p.Settings["embedded-nodes"] != "1" || p.Settings["record-size"] != "512" {
		t.Errorf("settings %v", p.Settings)
	}

	out, err = runApp(t, "bench", "consume", "--embedded", "--dir", dir, "--records", "20000", "--json", "-q")
	if err != nil {
		t.Fatalf("bench consume: %v\n%s", err, out)
	}
	var c bench.Result
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("consume JSON: %v\n%s", err, out)
	}
	if c.Consumed != p.Acked || c.Bytes != p.Bytes {
		t.Errorf("consumed %d records / %d bytes, produced %d / %d", c.Consumed, c.Bytes, p.Acked, p.Bytes)
	}
	if l := c.Latency; !(l.P50 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("consume latency out of order: %+v", l)
	}

	// The same records through a share group: every record once.
	out, err = runApp(t, "bench", "consume", "--embedded", "--dir", dir, "--records", "20000", "--share-group", "bench-share", "--json", "-q")
	if err != nil {
		t.Fatalf("bench consume --share-group: %v\n%s", err, out)
	}
	var sc bench.Result
	if err := json.Unmarshal([]byte(out), &sc); err != nil {
		t.Fatalf("consume --share-group JSON: %v\n%s", err, out)
	}
	if sc.Consumed != p.Acked || sc.Bytes != p.Bytes || sc.Settings["share-group"] != "bench-share" {
		t.Errorf("share group consumed %d records / %d bytes, produced %d / %d", sc.Consumed, sc.Bytes, p.Acked, p.Bytes)
	}
	t.Logf("consume: %.0f records/s; share group consume: %.0f records/s", c.RecordsPerSec, sc.RecordsPerSec)

	text, err := runApp(t, "bench", "consume", "--embedded", "--dir", dir, "--records", "100", "-q")
	if err != nil || !strings.Contains(text, "consume: 100 records consumed") {
		t.Errorf("text report: err %v\n%s", err, text)
	}
}
