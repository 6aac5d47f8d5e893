package kafka

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/certgen"
	"github.com/chronik-io/chronik/internal/tlsconf"
)

// sslBroker is one broker serving a single SSL listener.
func sslBroker(t *testing.T, pki *testPKI, auth tlsconf.ClientAuth) (*listenerCluster, string) {
	t.Helper()
	r := pki.reloader(t)
	lc := newListenerCluster(t, 1, Config{AutoCreateTopics: true}, []Listener{{Protocol: ProtocolSSL, TLS: r.ServerConfig(auth)}})
	return lc, lc.addrs[1]["SSL"]
}

// apiVersions sends one ApiVersions request through cl.
func apiVersions(t *testing.T, cl *kgo.Client, d time.Duration) error {
	t.Helper()
	_, err := kmsg.NewPtrApiVersionsRequest().RequestWith(testCtx(t, d), cl)
	return err
}

func newClient(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.RetryTimeout(2 * time.Second), kgo.RequestRetries(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestSSLListenerKgo: a kgo client that trusts the CA produces and
// consumes over an SSL listener; a plaintext client, and a TLS client that
// does not trust the CA, get nowhere.
func TestSSLListenerKgo(t *testing.T) {
	t.Parallel() // mostly waiting on its own cluster
	pki := newTestPKI(t)
	lc, addr := sslBroker(t, pki, tlsconf.ClientAuthNone)

	const topic, parts, n = "ssl", 2, 20
	lc.CreateTopic(t, topic, engine.TopicConfig{Partitions: parts})
	cl := newClient(t, kgo.SeedBrokers(addr), kgo.DialTLSConfig(pki.clientTLS(false)), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RetryTimeout(20*time.Second))
	produceN(t, cl, topic, parts, n)
	consumeAll(t, newClient(t, kgo.SeedBrokers(addr), kgo.DialTLSConfig(pki.clientTLS(false)), kgo.ConsumePartitions(startOffsets(topic, parts))), topic, parts, n)

	if err := apiVersions(t, newClient(t, kgo.SeedBrokers(addr)), 5*time.Second); err == nil {
		t.Error("a plaintext client was answered on the SSL listener")
	}
	other, err := certgen.NewCA("other CA")
	if err != nil {
		t.Fatal(err)
	}
	err = apiVersions(t, newClient(t, kgo.SeedBrokers(addr), kgo.DialTLSConfig(&tls.Config{RootCAs: other.Pool()})), 5*time.Second)
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("client not trusting the CA: err %v, want an unknown-authority error", err)
	}
}

// TestMutualTLSPrincipal: with client auth required, a client without a
// certificate is refused, and one with a certificate is answered on a
// connection whose principal is its subject, RFC 2253 formatted.
func TestMutualTLSPrincipal(t *testing.T) {
	pki := newTestPKI(t)
	lc, addr := sslBroker(t, pki, tlsconf.ClientAuthRequired)
	principals := make(chan string, 16)
	lc.servers[1].connHook = func(c *conn) { principals <- c.principal }

	if err := apiVersions(t, newClient(t, kgo.SeedBrokers(addr), kgo.DialTLSConfig(pki.clientTLS(false))), 5*time.Second); err == nil {
		t.Error("a client without a certificate was answered")
	}
	if err := apiVersions(t, newClient(t, kgo.SeedBrokers(addr), kgo.DialTLSConfig(pki.clientTLS(true))), 10*time.Second); err != nil {
		t.Fatalf("client with a certificate: %v", err)
	}
	select {
	case p := <-principals:
		if p != "User:"+aliceDN {
			t.Errorf("principal %q, want %q", p, "User:"+aliceDN)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no connection was set up")
	}
}

// TestCertificateReload: after the certificate files are replaced, new
// connections get the new certificate, and a connection opened before
// keeps working.
func TestCertificateReload(t *testing.T) {
	pki := newTestPKI(t)
	pki.issueBroker(t, 1001)
	r := pki.reloader(t)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); r.Watch(stop, 20*time.Millisecond) }()
	t.Cleanup(func() { close(stop); <-done })
	lc := newListenerCluster(t, 1, Config{}, []Listener{{Protocol: ProtocolSSL, TLS: r.ServerConfig(tlsconf.ClientAuthNone)}})
	addr := lc.addrs[1]["SSL"]

	dial := func() *tls.Conn {
		c, err := tls.Dial("tcp", addr, pki.clientTLS(false))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	serial := func(c *tls.Conn) int64 { return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64() }
	old := dial()
	if s := serial(old); s != 1001 {
		t.Fatalf("serial %d, want 1001", s)
	}

	// A broken file keeps the old certificate.
	if err := os.WriteFile(pki.certFile, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if s := serial(dial()); s != 1001 {
		t.Fatalf("after a bad file: serial %d, want the old 1001", s)
	}

	pki.issueBroker(t, 1002)
	deadline := time.Now().Add(5 * time.Second)
	for serial(dial()) != 1002 {
		if time.Now().After(deadline) {
			t.Fatal("new connections still get the old certificate")
		}
		time.Sleep(20 * time.Millisecond)
	}
	rc := &rawConn{t: t, c: old}
	resp := roundTrip[*kmsg.ApiVersionsResponse](rc, kmsg.NewPtrApiVersionsRequest())
	if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
		t.Fatalf("old connection after reload: %+v", resp)
	}
}

// TestSSLKcat: librdkafka (kcat) produces and consumes over SSL with
// security.protocol=ssl and ssl.ca.location. Skipped without kcat.
func TestSSLKcat(t *testing.T) {
	t.Parallel() // mostly waiting on its own cluster
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat not installed")
	}
	pki := newTestPKI(t)
	lc, addr := sslBroker(t, pki, tlsconf.ClientAuthRequested)
	lc.CreateTopic(t, "kcat-ssl", engine.TopicConfig{Partitions: 1})
	ctx := testCtx(t, 30*time.Second)
	sec := []string{"-b", addr, "-X", "security.protocol=ssl", "-X", "ssl.ca.location=" + pki.caFile}

	var stderr bytes.Buffer
	prod := exec.CommandContext(ctx, kcat, append(sec, "-P", "-t", "kcat-ssl", "-p", "0")...)
	prod.Stdin = strings.NewReader("one\ntwo\nthree\n")
	prod.Stderr = &stderr
	if err := prod.Run(); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, stderr.String())
	}
	stderr.Reset()
	// With a client certificate too (mTLS, ssl.client.auth=requested).
	mtls := append(sec, "-X", "ssl.certificate.location="+pki.clientFile, "-X", "ssl.key.location="+pki.clientKey)
	cons := exec.CommandContext(ctx, kcat, append(mtls, "-C", "-t", "kcat-ssl", "-p", "0", "-o", "beginning", "-e", "-q")...)
	cons.Stderr = &stderr
	out, err := cons.Output()
	if err != nil {
		t.Fatalf("kcat -C: %v\n%s", err, stderr.String())
	}
	if got := string(out); got != "one\ntwo\nthree\n" {
		t.Errorf("kcat consumed %q", got)
	}
}

func TestDistinguishedName(t *testing.T) {
	email := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	dc := asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	for _, tc := range []struct {
		name pkix.Name
		want string
	}{
		{pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"eng"}, Organization: []string{"acme"}}, "CN=alice,OU=eng,O=acme"},
		{pkix.Name{CommonName: "bob", Country: []string{"US"}, Province: []string{"CA"}, Locality: []string{"SF"}}, "CN=bob,L=SF,ST=CA,C=US"},
		{pkix.Name{CommonName: `a,b+c"d\e<f>g;h`}, `CN=a\,b\+c\"d\\e\<f\>g\;h`},
		{pkix.Name{CommonName: " #lead and trail "}, `CN=\ #lead and trail\ `},
		{pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{{Type: dc, Value: "com"}, {Type: dc, Value: "acme"}, {Type: email, Value: "a@b.c"}}},
			"1.2.840.113549.1.9.1=#0c056140622e63,DC=acme,DC=com"},
	} {
		ca, err := certgen.NewCA("dn test")
		if err != nil {
			t.Fatal(err)
		}
		c, err := ca.Issue(certgen.Options{Subject: tc.name, CommonName: tc.name.CommonName})
		if err != nil {
			t.Fatal(err)
		}
		if got := distinguishedName(c.Cert); got != tc.want {
			t.Errorf("distinguishedName(%v) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
