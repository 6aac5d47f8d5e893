package kafka

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/certgen"
	"github.com/chronik-io/chronik/internal/testcluster"
	"github.com/chronik-io/chronik/internal/tlsconf"
)

// testPKI is a throwaway CA with a broker certificate (SAN 127.0.0.1,
// localhost) and a client certificate for CN=alice,OU=eng,O=acme, as PEM
// files in a temp dir.
type testPKI struct {
	dir                   string
	ca                    *certgen.CA
	caFile                string
	certFile, keyFile     string // broker
	clientFile, clientKey string // alice
	client                *certgen.Cert
}

const aliceDN = "CN=alice,OU=eng,O=acme"

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	dir := t.TempDir()
	ca, err := certgen.NewCA("chronik test CA")
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{dir: dir, ca: ca,
		caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "broker.pem"), keyFile: filepath.Join(dir, "broker.key"),
		clientFile: filepath.Join(dir, "client.pem"), clientKey: filepath.Join(dir, "client.key")}
	if err := os.WriteFile(p.caFile, ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	p.issueBroker(t, 0)
	p.client, err = ca.Issue(certgen.Options{Subject: pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"eng"}, Organization: []string{"acme"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.client.WriteFiles(p.clientFile, p.clientKey); err != nil {
		t.Fatal(err)
	}
	return p
}

// issueBroker (re)writes the broker certificate with the given serial (0:
// random) and returns it.
func (p *testPKI) issueBroker(t testing.TB, serial int64) *certgen.Cert {
	t.Helper()
	c, err := p.ca.Issue(certgen.Options{CommonName: "broker", Hosts: []string{"127.0.0.1", "localhost"}, Serial: serial})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteFiles(p.certFile, p.keyFile); err != nil {
		t.Fatal(err)
	}
	return c
}

func (p *testPKI) reloader(t testing.TB) *tlsconf.Reloader {
	t.Helper()
	r, err := tlsconf.New(tlsconf.Files{CertFile: p.certFile, KeyFile: p.keyFile, CAFile: p.caFile}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// clientTLS trusts the CA and, withCert, presents alice's certificate.
func (p *testPKI) clientTLS(withCert bool) *tls.Config {
	cfg := &tls.Config{RootCAs: p.ca.Pool(), MinVersion: tls.VersionTLS12}
	if withCert {
		cfg.Certificates = []tls.Certificate{p.client.TLS()}
	}
	return cfg
}

// listenerCluster is an in-process cluster whose brokers each serve
// several listeners, registered by name in __meta.
type listenerCluster struct {
	*testcluster.Cluster
	addrs   map[int]map[string]string // node -> listener name -> address
	servers map[int]*Server
}

// newListenerCluster starts n brokers, each serving every listener of ls
// on its own free 127.0.0.1 port.
func newListenerCluster(t testing.TB, n int, cfg Config, ls []Listener, opts ...testcluster.Option) *listenerCluster {
	t.Helper()
	lc := &listenerCluster{addrs: map[int]map[string]string{}, servers: map[int]*Server{}}
	lns := map[int][]net.Listener{}
	for i := 1; i <= n; i++ {
		lc.addrs[i] = map[string]string{}
		for _, l := range ls {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			lns[i] = append(lns[i], ln)
			lc.addrs[i][l.withDefaults().Name] = ln.Addr().String()
		}
	}
	opts = append(opts, testcluster.WithConfig(func(c *engine.Config) {
		c.KafkaListeners = lc.addrs[int(c.NodeID)]
		c.KafkaAddr = lns[int(c.NodeID)][0].Addr().String()
	}))
	lc.Cluster = testcluster.New(t, n, opts...)
	for i := 1; i <= n; i++ {
		c := cfg
		if c.Logger == nil {
			c.Logger = testLogger(t).With("node", i)
		}
		s, err := New(lc.Engine(i), c)
		if err != nil {
			t.Fatal(err)
		}
		lc.servers[i] = s
		done := make(chan error, len(ls))
		for j, l := range ls {
			go func() { done <- s.ServeListener(lns[i][j], l) }()
		}
		t.Cleanup(func() {
			s.Close()
			for range ls {
				if err := <-done; err != nil {
					t.Errorf("ServeListener: %v", err)
				}
			}
		})
	}
	return lc
}

// seeds returns every broker's address on listener name.
func (lc *listenerCluster) seeds(name string) []string {
	var out []string
	for i := 1; i <= len(lc.addrs); i++ {
		out = append(out, lc.addrs[i][name])
	}
	return out
}

func TestParseListener(t *testing.T) {
	for _, tc := range []struct {
		in, name, addr string
		proto          SecurityProtocol
		bad            bool
	}{
		{in: "127.0.0.1:9092", name: "PLAINTEXT", proto: ProtocolPlaintext, addr: "127.0.0.1:9092"},
		{in: "PLAINTEXT://h:9092", name: "PLAINTEXT", proto: ProtocolPlaintext, addr: "h:9092"},
		{in: "ssl://:9093", name: "SSL", proto: ProtocolSSL, addr: ":9093"},
		{in: "SASL_PLAINTEXT://h:9094", name: "SASL_PLAINTEXT", proto: ProtocolSASLPlaintext, addr: "h:9094"},
		{in: "SASL_SSL://h:9095", name: "SASL_SSL", proto: ProtocolSASLSSL, addr: "h:9095"},
		{in: "HTTP://h:80", bad: true},
		{in: "SSL://h", bad: true},
		{in: "", bad: true},
	} {
		l, addr, err := ParseListener(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseListener(%q) = %+v, want an error", tc.in, l)
			}
			continue
		}
		if err != nil || l.Name != tc.name || l.Protocol != tc.proto || addr != tc.addr {
			t.Errorf("ParseListener(%q) = %+v, %q, %v; want %s %s %s", tc.in, l, addr, err, tc.name, tc.proto, tc.addr)
		}
	}
}

func TestListenerValidate(t *testing.T) {
	for _, tc := range []struct {
		l   Listener
		bad string
	}{
		{l: Listener{}},
		{l: Listener{Protocol: ProtocolSASLPlaintext}},
		{l: Listener{Protocol: ProtocolSSL}, bad: "needs a TLS configuration"},
		{l: Listener{Protocol: ProtocolSASLSSL}, bad: "needs a TLS configuration"},
		{l: Listener{Protocol: "TLS"}, bad: "unknown security protocol"},
		{l: Listener{Protocol: ProtocolSSL, TLS: &tls.Config{}}},
	} {
		err := tc.l.Validate()
		if (err == nil) != (tc.bad == "") || (err != nil && !strings.Contains(err.Error(), tc.bad)) {
			t.Errorf("%+v.Validate() = %v, want %q", tc.l, err, tc.bad)
		}
	}
}

// TestListenersMetadataAndRaftTLS: on a 3-broker cluster whose Raft
// transport runs over mutual TLS, with a PLAINTEXT and an SSL listener per
// broker, Metadata, DescribeCluster and FindCoordinator on each listener
// name every broker by its address on that listener; a produce with
// acks=all on RF=3 over SSL is read back.
func TestListenersMetadataAndRaftTLS(t *testing.T) {
	t.Parallel() // mostly waiting on its own cluster
	pki := newTestPKI(t)
	r := pki.reloader(t)
	ls := []Listener{{Protocol: ProtocolPlaintext}, {Protocol: ProtocolSSL, TLS: r.ServerConfig(tlsconf.ClientAuthNone)}}
	lc := newListenerCluster(t, 3, Config{AutoCreateTopics: true}, ls, testcluster.WithConfig(func(c *engine.Config) {
		c.RaftTLS = engine.TLSFiles{CAFile: pki.caFile, CertFile: pki.certFile, KeyFile: pki.keyFile}
	}))
	ctx := testCtx(t, 30*time.Second)

	for _, name := range []string{"PLAINTEXT", "SSL"} {
		for node := 1; node <= 3; node++ {
			opts := []kgo.Opt{kgo.SeedBrokers(lc.addrs[node][name])}
			if name == "SSL" {
				opts = append(opts, kgo.DialTLSConfig(pki.clientTLS(false)))
			}
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				t.Fatal(err)
			}
			want := map[int32]string{}
			for i := 1; i <= 3; i++ {
				want[int32(i)] = lc.addrs[i][name]
			}
			md, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
			if err != nil {
				t.Fatalf("%s node %d: metadata: %v", name, node, err)
			}
			got := map[int32]string{}
			for _, b := range md.Brokers {
				got[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
			}
			if !maps.Equal(got, want) {
				t.Errorf("%s node %d: Metadata brokers %v, want %v", name, node, got, want)
			}
			dc, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, cl)
			if err != nil {
				t.Fatalf("%s node %d: describe cluster: %v", name, node, err)
			}
			got = map[int32]string{}
			for _, b := range dc.Brokers {
				got[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
			}
			if !maps.Equal(got, want) {
				t.Errorf("%s node %d: DescribeCluster brokers %v, want %v", name, node, got, want)
			}
			cl.Close()
		}
	}

	// Replication over Raft mTLS, and coordinators on the SSL listener.
	const topic, parts, n = "tls-rf3", 3, 30
	sslClient := func(opts ...kgo.Opt) *kgo.Client {
		opts = append([]kgo.Opt{kgo.SeedBrokers(lc.seeds("SSL")...), kgo.DialTLSConfig(pki.clientTLS(false)), kgo.RetryTimeout(20 * time.Second)}, opts...)
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	lc.CreateTopic(t, topic, engine.TopicConfig{Partitions: parts, ReplicationFactor: 3})
	cl := sslClient(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceN(t, cl, topic, parts, n)
	consumeAll(t, sslClient(kgo.ConsumePartitions(startOffsets(topic, parts))), topic, parts, n)
	// The first FindCoordinator creates __consumer_offsets: retry until
	// the coordinator is up.
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKey = "g"
	fc.CoordinatorKeys = []string{"g"}
	for {
		resp, err := fc.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("find coordinator: %v", err)
		}
		c := resp.Coordinators[0]
		if c.ErrorCode == 0 {
			if got, want := net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))), lc.addrs[int(c.NodeID)]["SSL"]; got != want {
				t.Errorf("FindCoordinator on SSL: %s, want %s", got, want)
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A broker's address on a listener: its registered listener of that name,
// or its one KafkaAddr when it registered no listeners.
func TestListenerAddr(t *testing.T) {
	two := engine.Broker{ID: 1, KafkaAddr: "h:9092", Listeners: map[string]string{"PLAINTEXT": "h:9092", "SSL": "h:9093"}}
	old := engine.Broker{ID: 2, KafkaAddr: "o:9092"}
	for _, tc := range []struct {
		b        engine.Broker
		listener string
		want     string
	}{
		{two, "PLAINTEXT", "h:9092"},
		{two, "SSL", "h:9093"},
		{two, "SASL_SSL", ""},
		{old, "PLAINTEXT", "o:9092"},
		{old, "SSL", "o:9092"},
		{engine.Broker{ID: 3}, "PLAINTEXT", ""},
	} {
		if got := listenerAddr(tc.b, tc.listener); got != tc.want {
			t.Errorf("listenerAddr(%+v, %s) = %q, want %q", tc.b, tc.listener, got, tc.want)
		}
	}
}
