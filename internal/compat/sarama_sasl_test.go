package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/chronik-io/chronik/bench"
	"github.com/chronik-io/chronik/kafka"
)

// startSASLCluster starts a 1-node cluster that requires SASL, with user
// alice (SCRAM-SHA-256 and -512, so PLAIN works too).
func startSASLCluster(t *testing.T) *bench.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := bench.StartEmbedded(ctx, bench.EmbeddedConfig{Nodes: 1, SASL: kafka.SASLConfig{Enabled: true},
		BootstrapUser: "alice", BootstrapPassword: "alice-secret"})
	if err != nil {
		t.Fatalf("start SASL cluster: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close cluster: %v", err)
		}
	})
	return c
}

// TestSaramaSASLPlain: sarama with SASL/PLAIN, with the v0 handshake (raw
// tokens, sarama's default; without ApiVersions) and v1 (SaslAuthenticate), produces and
// consumes; a wrong password is refused.
func TestSaramaSASLPlain(t *testing.T) {
	c := startSASLCluster(t)
	for _, hv := range []struct {
		name    string
		version int16
	}{{"handshake-v0", sarama.SASLHandshakeV0}, {"handshake-v1", sarama.SASLHandshakeV1}} {
		t.Run(hv.name, func(t *testing.T) {
			cfg := saramaConfig(sarama.V2_8_0_0)
			cfg.Net.SASL.Enable = true
			cfg.Net.SASL.Mechanism = sarama.SASLTypePlaintext
			cfg.Net.SASL.Version = hv.version
			// sarama sends raw v0 tokens only without ApiVersions.
			cfg.ApiVersionsRequest = hv.version != sarama.SASLHandshakeV0
			cfg.Net.SASL.User, cfg.Net.SASL.Password = "alice", "alice-secret"
			topic := "sarama-sasl-" + hv.name
			recs := saramaProduce(t, c.Brokers(), cfg, topic, makeRecs("sasl", hv.name, 30))
			client, err := sarama.NewClient(c.Brokers(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			want := map[int32]int64{}
			for _, r := range recs {
				want[r.Partition]++
			}
			checkRecs(t, hv.name, recs, saramaConsumePartitions(t, client, topic, want))

			bad := saramaConfig(sarama.V2_8_0_0)
			bad.Net.SASL = cfg.Net.SASL
			bad.ApiVersionsRequest = cfg.ApiVersionsRequest
			bad.Net.SASL.Password = "wrong"
			bad.Metadata.Retry.Max = 0
			if cl, err := sarama.NewClient(c.Brokers(), bad); err == nil {
				cl.Close()
				t.Fatal("a wrong password connected")
			}
		})
	}
}

// runKafkaJSSASL runs sasl.js from dir (kafkajs installed there) with
// SCRAM-SHA-256 against a cluster that requires SASL.
func runKafkaJSSASL(t *testing.T, node, dir string) {
	c := startSASLCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	run := exec.CommandContext(ctx, node, "sasl.js")
	run.Dir = dir
	run.Env = append(os.Environ(), "CHRONIK_BROKERS="+strings.Join(c.Brokers(), ","),
		"CHRONIK_SASL_USER=alice", "CHRONIK_SASL_PASSWORD=alice-secret")
	var stdout, stderr bytes.Buffer
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Run(); err != nil {
		t.Fatalf("node sasl.js: %v\n%s", err, stderr.String())
	}
	var res struct {
		Produced, Consumed []string
		WrongPasswordError string
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("decode sasl.js output: %v\n%s", err, stdout.String())
	}
	sort.Strings(res.Produced)
	if len(res.Produced) == 0 || !slices.Equal(res.Produced, res.Consumed) {
		t.Errorf("consumed %v, want %v", res.Consumed, res.Produced)
	}
	if res.WrongPasswordError == "" {
		t.Errorf("kafkajs with a wrong password was not refused: %s", stdout.String())
	}
}
