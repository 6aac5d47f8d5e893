package kafka

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
)

// kafkaCluster is an in-process cluster of n engines, each with a Kafka
// server on its own 127.0.0.1 port.
type kafkaCluster struct {
	*testcluster.Cluster
	addrs   map[int]string // node -> Kafka address
	servers map[int]*Server
}

// newKafkaCluster listens first, opens the engines with the listeners'
// addresses as their advertised Kafka addresses, then serves.
func newKafkaCluster(t testing.TB, n int, cfg Config, opts ...testcluster.Option) *kafkaCluster {
	t.Helper()
	return newKafkaClusterWith(t, n, cfg, nil, opts...)
}

// newKafkaClusterWith is newKafkaCluster with each server's backend passed
// through wrap (fault injection); nil wrap serves the engines directly.
func newKafkaClusterWith(t testing.TB, n int, cfg Config, wrap func(node int, be backend) backend, opts ...testcluster.Option) *kafkaCluster {
	t.Helper()
	lns := map[uint64]net.Listener{}
	kc := &kafkaCluster{addrs: map[int]string{}, servers: map[int]*Server{}}
	for i := 1; i <= n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[uint64(i)] = ln
		kc.addrs[i] = ln.Addr().String()
	}
	opts = append(opts, testcluster.WithConfig(func(c *engine.Config) { c.KafkaAddr = kc.addrs[int(c.NodeID)] }))
	kc.Cluster = testcluster.New(t, n, opts...)
	for i := 1; i <= n; i++ {
		c := cfg
		if c.Logger == nil {
			c.Logger = testLogger(t).With("node", i)
		}
		var be backend = engineBackend{kc.Engine(i)}
		if wrap != nil {
			be = wrap(i, be)
		}
		s, err := newServer(be, c)
		if err != nil {
			t.Fatal(err)
		}
		kc.servers[i] = s
		done := make(chan error, 1)
		go func(ln net.Listener) { done <- s.Serve(ln) }(lns[uint64(i)])
		// Registered after testcluster's cleanup, so it runs first: the
		// servers close before their engines.
		t.Cleanup(func() {
			s.Close()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	return kc
}

// seeds returns every broker's Kafka address.
func (kc *kafkaCluster) seeds() []string {
	var out []string
	for i := 1; i <= len(kc.addrs); i++ {
		out = append(out, kc.addrs[i])
	}
	return out
}

// client returns a kgo client on the cluster, closed at cleanup.
func (kc *kafkaCluster) client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(kc.seeds()...), kgo.RetryTimeout(30 * time.Second), kgo.AllowAutoTopicCreation()}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func (kc *kafkaCluster) admin(t testing.TB) *kadm.Client {
	return kadm.NewClient(kc.client(t))
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
