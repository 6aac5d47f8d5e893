package kafka

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// kcat (librdkafka) produces and consumes over SASL_PLAINTEXT with
// SCRAM-SHA-512. Skipped without kcat.
func TestSASLKcat(t *testing.T) {
	t.Parallel() // mostly waiting on its own cluster
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat not installed")
	}
	kc := newSASLCluster(t, 1, 0)
	const topic, n = "kcat-sasl", 50
	auth := []string{"-b", kc.addrs[1], "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=SCRAM-SHA-512",
		"-X", "sasl.username=" + saslUser, "-X", "sasl.password=" + saslPass, "-t", topic}
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, "v%d\n", i)
	}
	ctx := testCtx(t, 30*time.Second)
	prod := exec.CommandContext(ctx, kcat, append(auth, "-P")...)
	prod.Stdin = strings.NewReader(in.String())
	if out, err := prod.CombinedOutput(); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, out)
	}
	var stdout, stderr bytes.Buffer
	cons := exec.CommandContext(ctx, kcat, append(auth, "-C", "-o", "beginning", "-e")...)
	cons.Stdout, cons.Stderr = &stdout, &stderr
	if err := cons.Run(); err != nil {
		t.Fatalf("kcat -C: %v\n%s", err, stderr.String())
	}
	if got := stdout.String(); got != in.String() {
		t.Fatalf("kcat consumed %q, want %q", got, in.String())
	}
}
