package kafka

import (
	"encoding/binary"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	xscram "github.com/xdg-go/scram"

	"github.com/chronik-io/chronik/internal/scramcred"
)

const saslUser, saslPass = "alice", "alice-secret"

// saslMech is franz-go's client side of mech.
func saslMech(mech, user, pass string) sasl.Mechanism {
	switch mech {
	case MechanismPlain:
		return plain.Auth{User: user, Pass: pass}.AsMechanism()
	case MechanismScramSHA256:
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
	}
	return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
}

// newSASLCluster is an n-node cluster that requires SASL, with user alice
// stored on every node.
func newSASLCluster(t *testing.T, n int, lifetime time.Duration) *kafkaCluster {
	t.Helper()
	kc := newKafkaCluster(t, n, Config{AutoCreateTopics: true, DefaultPartitions: 1,
		SASL: SASLConfig{Enabled: true, SessionLifetime: lifetime}})
	ctx := testCtx(t, 30*time.Second)
	if _, err := kc.Engine(1).EnsureScramUser(ctx, saslUser, saslPass); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		for len(kc.Engine(i).ScramCredentials(saslUser)) == 0 {
			if ctx.Err() != nil {
				t.Fatalf("alice not replicated to node %d", i)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return kc
}

// franz-go produces and consumes with each mechanism.
func TestSASLProduceConsume(t *testing.T) {
	t.Parallel() // mostly waiting on its own cluster
	kc := newSASLCluster(t, 1, 0)
	for _, mech := range DefaultSASLMechanisms {
		t.Run(mech, func(t *testing.T) {
			topic := "sasl-" + strings.ToLower(mech)
			auth := kgo.SASL(saslMech(mech, saslUser, saslPass))
			produceN(t, kc.client(t, auth), topic, 1, 20)
			consumeAll(t, kc.client(t, auth, kgo.ConsumePartitions(startOffsets(topic, 1))), topic, 1, 20)
		})
	}
	if f := kc.servers[1].SASLAuthenticationFailures(); f != 0 {
		t.Fatalf("%d failures counted, want 0", f)
	}
	if ok := kc.servers[1].SASLAuthentications(); ok < 3 {
		t.Fatalf("%d authentications counted, want at least 3", ok)
	}
}

// Without authentication only ApiVersions is answered: any other request
// closes the connection, and a client without credentials gets nowhere.
func TestSASLRequired(t *testing.T) {
	kc := newSASLCluster(t, 1, 0)
	rc := dialRaw(t, kc.addrs[1])
	av := roundTrip[*kmsg.ApiVersionsResponse](rc, &kmsg.ApiVersionsRequest{Version: 3, ClientSoftwareName: "t", ClientSoftwareVersion: "1"})
	if av.ErrorCode != 0 {
		t.Fatalf("ApiVersions: %v", kerr.ErrorForCode(av.ErrorCode))
	}
	rc.send(kmsg.NewPtrMetadataRequest())
	rc.expectClosed()

	cl := kc.client(t, kgo.RetryTimeout(time.Second), kgo.RequestRetries(1))
	ctx := testCtx(t, 10*time.Second)
	if err := cl.Ping(ctx); err == nil {
		t.Fatal("a client without credentials reached the broker")
	}
}

// saslConn authenticates rc's handshake (v1) for mech and returns the
// handshake's error code.
func handshake(rc *rawConn, mech string, version int16) int16 {
	return roundTrip[*kmsg.SASLHandshakeResponse](rc, &kmsg.SASLHandshakeRequest{Version: version, Mechanism: mech}).ErrorCode
}

func authenticate(rc *rawConn, version int16, tok []byte) *kmsg.SASLAuthenticateResponse {
	return roundTrip[*kmsg.SASLAuthenticateResponse](rc, &kmsg.SASLAuthenticateRequest{Version: version, SASLAuthBytes: tok})
}

// scramAttempt runs a SCRAM exchange for user/pass on a new connection and
// returns the server-first message and the final response.
func scramAttempt(t *testing.T, addr, mech, user, pass string) (string, *kmsg.SASLAuthenticateResponse) {
	t.Helper()
	gen := xscram.SHA256
	if mech == MechanismScramSHA512 {
		gen = xscram.SHA512
	}
	cl, err := gen.NewClient(user, pass, "")
	if err != nil {
		t.Fatal(err)
	}
	conv := cl.NewConversation()
	rc := dialRaw(t, addr)
	if code := handshake(rc, mech, 1); code != 0 {
		t.Fatalf("handshake: %v", kerr.ErrorForCode(code))
	}
	first, _ := conv.Step("")
	r1 := authenticate(rc, 2, []byte(first))
	if r1.ErrorCode != 0 {
		t.Fatalf("client-first: %v", kerr.ErrorForCode(r1.ErrorCode))
	}
	final, err := conv.Step(string(r1.SASLAuthBytes))
	if err != nil {
		t.Fatalf("server-first %q: %v", r1.SASLAuthBytes, err)
	}
	r2 := authenticate(rc, 2, []byte(final))
	if r2.ErrorCode != 0 {
		rc.expectClosed()
	}
	return string(r1.SASLAuthBytes), r2
}

// A wrong password and an unknown user fail alike: the same code and
// message, and for SCRAM a stable salt and the usual iteration count for
// the unknown user. Each failure is counted.
func TestSASLFailuresLookAlike(t *testing.T) {
	kc := newSASLCluster(t, 1, 0)
	addr := kc.addrs[1]
	failed := func(what string, r *kmsg.SASLAuthenticateResponse) string {
		t.Helper()
		if r.ErrorCode != kerr.SaslAuthenticationFailed.Code || r.ErrorMessage == nil {
			t.Fatalf("%s: error %v, want SASL_AUTHENTICATION_FAILED with a message", what, kerr.ErrorForCode(r.ErrorCode))
		}
		return *r.ErrorMessage
	}

	t.Run("PLAIN", func(t *testing.T) {
		var msgs []string
		for _, tok := range []string{"\x00alice\x00wrong", "\x00mallory\x00wrong", "\x00alice"} {
			rc := dialRaw(t, addr)
			if code := handshake(rc, MechanismPlain, 1); code != 0 {
				t.Fatalf("handshake: %v", kerr.ErrorForCode(code))
			}
			msgs = append(msgs, failed(tok, authenticate(rc, 1, []byte(tok))))
			rc.expectClosed()
		}
		if msgs[0] != msgs[1] || msgs[1] != msgs[2] {
			t.Fatalf("messages differ: %q", msgs)
		}
		rc := dialRaw(t, addr)
		handshake(rc, MechanismPlain, 1)
		if r := authenticate(rc, 1, []byte("\x00alice\x00"+saslPass)); r.ErrorCode != 0 {
			t.Fatalf("right password: %v", kerr.ErrorForCode(r.ErrorCode))
		}
	})
	for _, mech := range []string{MechanismScramSHA256, MechanismScramSHA512} {
		t.Run(mech, func(t *testing.T) {
			aliceFirst, r := scramAttempt(t, addr, mech, saslUser, "wrong")
			m1 := failed("wrong password", r)
			malFirst, r := scramAttempt(t, addr, mech, "mallory", "wrong")
			m2 := failed("unknown user", r)
			malFirst2, _ := scramAttempt(t, addr, mech, "mallory", "other")
			if m1 != m2 {
				t.Fatalf("messages differ: %q vs %q", m1, m2)
			}
			salt := func(first string) (s, i string) {
				for _, f := range strings.Split(first, ",") {
					switch {
					case strings.HasPrefix(f, "s="):
						s = f
					case strings.HasPrefix(f, "i="):
						i = f
					}
				}
				return s, i
			}
			s1, _ := salt(malFirst)
			s2, i2 := salt(malFirst2)
			_, ia := salt(aliceFirst)
			if s1 == "" || s1 != s2 {
				t.Fatalf("unknown user's salt changes between attempts: %q, %q", s1, s2)
			}
			if i2 != ia {
				t.Fatalf("unknown user's iterations %q differ from a real user's %q", i2, ia)
			}
			if _, r := scramAttempt(t, addr, mech, saslUser, saslPass); r.ErrorCode != 0 {
				t.Fatalf("right password: %v", kerr.ErrorForCode(r.ErrorCode))
			}
		})
	}
	if got := kc.servers[1].SASLAuthenticationFailures(); got != 3+2*3 {
		t.Fatalf("%d failures counted, want 9", got)
	}
}

// SASL requests out of order are refused as Kafka refuses them.
func TestSASLIllegalStates(t *testing.T) {
	kc := newSASLCluster(t, 1, 0)
	addr := kc.addrs[1]

	rc := dialRaw(t, addr)
	if r := authenticate(rc, 1, []byte("\x00alice\x00"+saslPass)); r.ErrorCode != codeIllegalSASLState {
		t.Fatalf("authenticate before handshake: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	rc.expectClosed()

	rc = dialRaw(t, addr)
	resp := roundTrip[*kmsg.SASLHandshakeResponse](rc, &kmsg.SASLHandshakeRequest{Version: 1, Mechanism: "GSSAPI"})
	if resp.ErrorCode != codeUnsupportedSASLMechanism || len(resp.SupportedMechanisms) != 3 {
		t.Fatalf("GSSAPI: %v, mechanisms %v", kerr.ErrorForCode(resp.ErrorCode), resp.SupportedMechanisms)
	}
	rc.expectClosed()

	rc = dialRaw(t, addr)
	handshake(rc, MechanismPlain, 1)
	if code := handshake(rc, MechanismPlain, 1); code != codeIllegalSASLState {
		t.Fatalf("second handshake: %v", kerr.ErrorForCode(code))
	}
	rc.expectClosed()

	// Without SASL the requests are answered, not obeyed.
	_, plainAddr := serve(t, &stubBackend{}, Config{})
	rc = dialRaw(t, plainAddr)
	if code := handshake(rc, MechanismPlain, 1); code != codeIllegalSASLState {
		t.Fatalf("handshake without SASL: %v", kerr.ErrorForCode(code))
	}
}

// After a SaslHandshake v0 the tokens follow bare (clients from before
// KIP-152), for PLAIN and SCRAM.
func TestSASLHandshakeV0(t *testing.T) {
	kc := newSASLCluster(t, 1, 0)
	rawToken := func(rc *rawConn, tok []byte) []byte {
		t.Helper()
		rc.write(binary.BigEndian.AppendUint32(nil, uint32(len(tok))))
		rc.write(tok)
		b, err := rc.readFrame()
		if err != nil {
			t.Fatalf("raw token answer: %v", err)
		}
		return b
	}
	metadataWorks := func(rc *rawConn) {
		t.Helper()
		md := roundTrip[*kmsg.MetadataResponse](rc, kmsg.NewPtrMetadataRequest())
		if len(md.Brokers) != 1 {
			t.Fatalf("metadata after raw authentication: %d brokers", len(md.Brokers))
		}
	}

	rc := dialRaw(t, kc.addrs[1])
	if code := handshake(rc, MechanismPlain, 0); code != 0 {
		t.Fatalf("handshake v0: %v", kerr.ErrorForCode(code))
	}
	if b := rawToken(rc, []byte("\x00alice\x00"+saslPass)); len(b) != 0 {
		t.Fatalf("PLAIN answer %q, want empty", b)
	}
	metadataWorks(rc)

	rc = dialRaw(t, kc.addrs[1])
	handshake(rc, MechanismScramSHA256, 0)
	cl, _ := xscram.SHA256.NewClient(saslUser, saslPass, "")
	conv := cl.NewConversation()
	first, _ := conv.Step("")
	final, err := conv.Step(string(rawToken(rc, []byte(first))))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conv.Step(string(rawToken(rc, []byte(final)))); err != nil || !conv.Valid() {
		t.Fatalf("server-final: %v", err)
	}
	metadataWorks(rc)

	rc = dialRaw(t, kc.addrs[1])
	handshake(rc, MechanismPlain, 0)
	bad := []byte("\x00alice\x00wrong")
	rc.write(binary.BigEndian.AppendUint32(nil, uint32(len(bad))))
	rc.write(bad)
	rc.expectClosed()
}

// KIP-368: with a 1 s session lifetime franz-go re-authenticates on its
// connections and keeps producing; a connection that does not is closed at
// its next request.
func TestSASLSessionLifetime(t *testing.T) {
	kc := newSASLCluster(t, 1, time.Second)

	rc := dialRaw(t, kc.addrs[1])
	handshake(rc, MechanismPlain, 1)
	r := authenticate(rc, 1, []byte("\x00alice\x00"+saslPass))
	if r.ErrorCode != 0 || r.SessionLifetimeMillis != 1000 {
		t.Fatalf("authenticate: %v, lifetime %d ms, want 1000", kerr.ErrorForCode(r.ErrorCode), r.SessionLifetimeMillis)
	}
	roundTrip[*kmsg.MetadataResponse](rc, kmsg.NewPtrMetadataRequest())

	var connects atomic.Int64
	hook := kgo.WithHooks(hookConnect(func() { connects.Add(1) }))
	cl := kc.client(t, kgo.SASL(saslMech(MechanismScramSHA512, saslUser, saslPass)), hook)
	ctx := testCtx(t, 15*time.Second)
	start := time.Now()
	for i := 0; time.Since(start) < 2500*time.Millisecond; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "reauth", Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatalf("produce %d after %s: %v", i, time.Since(start), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	auths := kc.servers[1].SASLAuthentications()
	n := connects.Load()
	if auths <= n+1 {
		t.Fatalf("%d authentications over %d connections: no re-authentication", auths, n)
	}
	if n > 4 {
		t.Fatalf("%d connections: re-authentication should keep the connections", n)
	}

	// The raw connection never re-authenticated: its session is over.
	rc.send(kmsg.NewPtrMetadataRequest())
	rc.expectClosed()
}

// hookConnect calls f on each successful broker connection.
type hookConnect func()

var _ kgo.HookBrokerConnect = hookConnect(nil)

func (f hookConnect) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err == nil {
		f()
	}
}

func saltedForTest(t *testing.T, mech, pass string, salt []byte, iters int) []byte {
	t.Helper()
	sp, err := scramcred.SaltPassword(mech, pass, salt, iters)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// A flood of failing logins does not hold up an authenticated connection:
// the PBKDF2 work of each runs on its own connection, under no shared lock.
func TestSASLFailureFlood(t *testing.T) {
	kc := newSASLCluster(t, 1, 0)
	addr := kc.addrs[1]
	rc := dialRaw(t, addr)
	handshake(rc, MechanismPlain, 1)
	if r := authenticate(rc, 1, []byte("\x00alice\x00"+saslPass)); r.ErrorCode != 0 {
		t.Fatalf("authenticate: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	stop := make(chan struct{})
	var attempts atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				bad := &rawConn{t: t, c: c}
				c.SetDeadline(time.Now().Add(5 * time.Second))
				bad.write(encodeRequest(1, "flood", &kmsg.SASLHandshakeRequest{Version: 1, Mechanism: MechanismPlain}))
				bad.readFrame()
				bad.write(encodeRequest(2, "flood", &kmsg.SASLAuthenticateRequest{Version: 1, SASLAuthBytes: []byte("\x00alice\x00guess")}))
				bad.readFrame()
				c.Close()
				attempts.Add(1)
			}
		}()
	}
	var worst time.Duration
	for start := time.Now(); time.Since(start) < time.Second; {
		t0 := time.Now()
		roundTrip[*kmsg.MetadataResponse](rc, kmsg.NewPtrMetadataRequest())
		worst = max(worst, time.Since(t0))
	}
	close(stop)
	wg.Wait()
	t.Logf("%d failed logins; slowest Metadata round trip %s", attempts.Load(), worst)
	if attempts.Load() < 10 {
		t.Fatalf("only %d failed logins: no flood", attempts.Load())
	}
	if worst > 500*time.Millisecond {
		t.Fatalf("a Metadata round trip took %s during the flood", worst)
	}
	if f := kc.servers[1].SASLAuthenticationFailures(); f < attempts.Load() {
		t.Fatalf("%d failures counted, want at least %d", f, attempts.Load())
	}
}
