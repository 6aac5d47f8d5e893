package kafka

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/tlsconf"
)

// TestSASLSSLWithACLs is the whole security stack on one SASL_SSL
// listener: TLS, SCRAM-SHA-512 users in __meta, ACLs with a super user and
// no allow-everyone default. A client without credentials gets nowhere, a
// wrong password is SASL_AUTHENTICATION_FAILED, an authenticated user
// without an ACL is TOPIC_AUTHORIZATION_FAILED, and once the super user
// grants it Write and Read, franz-go and kcat (security.protocol=SASL_SSL,
// SCRAM-SHA-512) produce and consume.
func TestSASLSSLWithACLs(t *testing.T) {
	t.Parallel() // mostly waiting on its own cluster
	pki := newTestPKI(t)
	r := pki.reloader(t)
	lc := newListenerCluster(t, 1, Config{Authz: AuthzConfig{Enabled: true, SuperUsers: []string{"User:admin"}}},
		[]Listener{{Protocol: ProtocolSASLSSL, TLS: r.ServerConfig(tlsconf.ClientAuthNone)}})
	addr := lc.addrs[1]["SASL_SSL"]
	ctx := testCtx(t, time.Minute)
	for user, pass := range map[string]string{"admin": "admin-secret", saslUser: saslPass} {
		if _, err := lc.Engine(1).EnsureScramUser(ctx, user, pass); err != nil {
			t.Fatal(err)
		}
	}
	const topic = "secure"
	lc.CreateTopic(t, topic, engine.TopicConfig{Partitions: 1})
	tlsOpt := kgo.DialTLSConfig(pki.clientTLS(false))
	as := func(user, pass string, opts ...kgo.Opt) *kgo.Client {
		return newClient(t, append([]kgo.Opt{kgo.SeedBrokers(addr), tlsOpt, kgo.SASL(saslMech(MechanismScramSHA512, user, pass)),
			kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)...)
	}
	produce := func(cl *kgo.Client) error {
		pctx := testCtx(t, 10*time.Second)
		return cl.ProduceSync(pctx, &kgo.Record{Value: []byte("v")}).FirstErr()
	}

	// ApiVersions is allowed before authentication; anything else closes
	// the connection.
	if _, err := kmsg.NewPtrMetadataRequest().RequestWith(testCtx(t, 5*time.Second), newClient(t, kgo.SeedBrokers(addr), tlsOpt)); err == nil {
		t.Error("a Metadata request without SASL was answered")
	}
	if err := apiVersions(t, as(saslUser, "wrong"), 5*time.Second); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Errorf("wrong password: %v, want SASL_AUTHENTICATION_FAILED", err)
	}
	alice := as(saslUser, saslPass, kgo.RecordDeliveryTimeout(5*time.Second))
	if err := produce(alice); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce without an ACL: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	adm := kadm.NewClient(as("admin", "admin-secret"))
	acls := kadm.NewACLs().Allow("User:"+saslUser).Topics(topic).Operations(kadm.OpWrite, kadm.OpRead, kadm.OpDescribe).
		ResourcePatternType(kadm.ACLPatternLiteral)
	res, err := adm.CreateACLs(ctx, acls)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("CreateACLs: %v", r.Err)
		}
	}
	// The authorizer reads __meta through this broker's replica.
	waitUntil(t, 10*time.Second, "alice's ACL in force", func() bool { return produce(alice) == nil })

	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Log("kcat not installed: its SASL_SSL part skipped")
		return
	}
	sec := []string{"-b", addr, "-X", "security.protocol=SASL_SSL", "-X", "ssl.ca.location=" + pki.caFile,
		"-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=" + saslUser, "-X", "sasl.password=" + saslPass}
	var stderr bytes.Buffer
	prod := exec.CommandContext(ctx, kcat, append(sec, "-P", "-t", topic, "-p", "0")...)
	prod.Stdin, prod.Stderr = strings.NewReader("k1\nk2\n"), &stderr
	if err := prod.Run(); err != nil {
		t.Fatalf("kcat -P over SASL_SSL: %v\n%s", err, stderr.String())
	}
	stderr.Reset()
	cons := exec.CommandContext(ctx, kcat, append(sec, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q")...)
	cons.Stderr = &stderr
	out, err := cons.Output()
	if err != nil {
		t.Fatalf("kcat -C over SASL_SSL: %v\n%s", err, stderr.String())
	}
	if got := string(out); !strings.HasSuffix(got, "k1\nk2\n") {
		t.Errorf("kcat consumed %q, want the records ending with k1 k2", got)
	}
	stderr.Reset()
	bad := exec.CommandContext(ctx, kcat, append(append([]string{}, sec[:len(sec)-1]...), "sasl.password=wrong", "-L", "-m", "5")...)
	bad.Stderr = &stderr
	if err := bad.Run(); err == nil {
		t.Errorf("kcat with a wrong password listed metadata\n%s", stderr.String())
	}
}

// waitUntil polls cond every 50ms until it holds or d passes.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
