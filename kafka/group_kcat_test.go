package kafka

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-io/chronik/engine"
)

// TestGroupKcat: librdkafka's balanced consumer (kcat -G) joins a group,
// consumes every record once, commits, and leaves. Skipped without kcat.
func TestGroupKcat(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat not installed")
	}
	kc := newKafkaCluster(t, 1, groupTestConfig())
	const topic, parts, n = "kcat", 3, 300
	kc.CreateTopic(t, topic, engine.TopicConfig{Partitions: parts})
	produceN(t, kc.client(t, kgo.RecordPartitioner(kgo.ManualPartitioner())), topic, parts, n)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, "-b", kc.addrs[1], "-G", "kcat-group", "-o", "beginning", "-e",
		"-X", "auto.commit.interval.ms=100", "-f", "%p %o\n", topic)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	seen := map[string]bool{}
	for _, l := range lines {
		if seen[l] {
			t.Errorf("record %s consumed twice", l)
		}
		seen[l] = true
	}
	if len(seen) != n {
		t.Fatalf("kcat consumed %d distinct records, want %d\n%s", len(seen), n, stderr.String())
	}
	offs, err := kc.admin(t).FetchOffsets(ctx, "kcat-group")
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < parts; p++ {
		if o, ok := offs.Lookup(topic, p); !ok || o.At != n/parts {
			t.Errorf("partition %d committed %+v, want %d", p, o, n/parts)
		}
	}
}
