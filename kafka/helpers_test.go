package kafka

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
	"github.com/chronik-io/chronik/engine"
)

// testLogger logs to t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// serve starts a server over be on a free 127.0.0.1 port and returns its
// address; Close runs at cleanup.
func serve(t testing.TB, be backend, cfg Config) (*Server, string) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	s, err := newServer(be, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, ln.Addr().String()
}

// rawConn speaks the wire protocol by hand, for tests of framing and of
// answers kgo would hide.
type rawConn struct {
	t    testing.TB
	c    net.Conn
	corr int32
	// clientID is sent in every request header; "" sends "chronik-test".
	clientID string
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return &rawConn{t: t, c: c}
}

// encodeRequest builds a whole request frame for req at its version.
func encodeRequest(corr int32, clientID string, req kmsg.Request) []byte {
	buf := []byte{0, 0, 0, 0}
	buf = binary.BigEndian.AppendUint16(buf, uint16(req.Key()))
	buf = binary.BigEndian.AppendUint16(buf, uint16(req.GetVersion()))
	buf = binary.BigEndian.AppendUint32(buf, uint32(corr))
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(clientID)))
	buf = append(buf, clientID...)
	if req.IsFlexible() {
		buf = append(buf, 0)
	}
	buf = req.AppendTo(buf)
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
	return buf
}

func (rc *rawConn) write(b []byte) {
	rc.t.Helper()
	if _, err := rc.c.Write(b); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
}

// send writes req and returns its correlation id.
func (rc *rawConn) send(req kmsg.Request) int32 {
	rc.t.Helper()
	rc.corr++
	id := rc.clientID
	if id == "" {
		id = "chronik-test"
	}
	rc.write(encodeRequest(rc.corr, id, req))
	return rc.corr
}

// recv reads one response frame into resp (whose version must be set) and
// checks the correlation id.
func (rc *rawConn) recv(corr int32, resp kmsg.Response) {
	rc.t.Helper()
	body, err := rc.readFrame()
	if err != nil {
		rc.t.Fatalf("read response: %v", err)
	}
	rd := kbin.Reader{Src: body}
	if got := rd.Int32(); got != corr {
		rc.t.Fatalf("correlation id %d, want %d", got, corr)
	}
	if resp.IsFlexible() && resp.Key() != 18 {
		kmsg.SkipTags(&rd)
	}
	if err := resp.ReadFrom(rd.Src); err != nil {
		rc.t.Fatalf("decode %T v%d: %v", resp, resp.GetVersion(), err)
	}
}

func (rc *rawConn) readFrame() ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(rc.c, size[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err := io.ReadFull(rc.c, body)
	return body, err
}

// roundTrip sends req and decodes its response.
func roundTrip[R kmsg.Response](rc *rawConn, req kmsg.Request) R {
	rc.t.Helper()
	corr := rc.send(req)
	resp := req.ResponseKind().(R)
	resp.SetVersion(req.GetVersion())
	rc.recv(corr, resp)
	return resp
}

// expectClosed asserts the server closes the connection without answering.
func (rc *rawConn) expectClosed() {
	rc.t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := rc.readFrame()
	if err == nil {
		rc.t.Fatalf("got a %d-byte response, want the connection closed", len(b))
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		rc.t.Fatalf("connection still open after 10s")
	}
}

// stubBackend answers every engine call with err and describes a one-broker
// cluster with no topics. It exercises framing, versions and error mapping
// without an engine; everything else runs against real engines.
type stubBackend struct {
	err  error
	addr string
}

func (b *stubBackend) NodeID() uint64 { return 1 }
func (b *stubBackend) Metadata(...string) engine.Metadata {
	return engine.Metadata{ClusterID: "stub", ControllerID: 1, Brokers: []engine.Broker{{ID: 1, KafkaAddr: b.addr}}}
}
func (b *stubBackend) TopicName([16]byte) (string, bool)                             { return "", false }
func (b *stubBackend) CreateTopic(context.Context, string, engine.TopicConfig) error { return b.err }
func (b *stubBackend) DeleteTopic(context.Context, string) error                     { return b.err }
func (b *stubBackend) CreatePartitions(context.Context, string, int32) error         { return b.err }
func (b *stubBackend) CheckCreatePartitions(string, int32) error                     { return b.err }
func (b *stubBackend) AlterTopicConfig(context.Context, string, engine.ConfigChange, bool) (map[string]string, error) {
	return nil, b.err
}
func (b *stubBackend) ProduceAsync(context.Context, string, int32, []byte) (produceWaiter, error) {
	if b.err != nil {
		return nil, b.err
	}
	return doneWaiter{}, nil
}
func (b *stubBackend) Fetch(context.Context, string, int32, int64, engine.FetchOptions) (engine.FetchResult, error) {
	return engine.FetchResult{}, b.err
}
func (b *stubBackend) AllocateProducerID(context.Context) (int64, int16, error) { return 0, 0, b.err }
func (b *stubBackend) Producers(string, int32) ([]engine.ProducerState, error)  { return nil, b.err }
func (b *stubBackend) Watch(string, int32, int64) (<-chan struct{}, error)      { return nil, b.err }
func (b *stubBackend) WriteTxnMarker(context.Context, string, int32, int64, int16, bool, int32) error {
	return b.err
}
func (b *stubBackend) ListOffsets(context.Context, string, int32, int64) (engine.ListOffsetsResult, error) {
	return engine.ListOffsetsResult{}, b.err
}
func (b *stubBackend) OffsetForLeaderEpoch(context.Context, string, int32, int32, int32) (engine.EpochEndOffset, error) {
	return engine.EpochEndOffset{LeaderEpoch: -1, EndOffset: -1}, b.err
}
func (b *stubBackend) DeleteRecords(context.Context, string, int32, int64) (int64, error) {
	return 0, b.err
}
func (b *stubBackend) LocalReplicas(bool) []engine.ReplicaStatus { return nil }
func (b *stubBackend) PartitionStats(string, int32) (engine.PartitionStats, error) {
	return engine.PartitionStats{}, b.err
}
func (b *stubBackend) DiskFreeBytes() int64          { return -1 }
func (b *stubBackend) ACLIndex() *acl.Index          { return nil }
func (b *stubBackend) ACLs(acl.Filter) []acl.Binding { return nil }
func (b *stubBackend) CreateACLs(context.Context, []acl.Binding) error {
	return b.err
}
func (b *stubBackend) DeleteACLs(context.Context, []acl.Filter) ([][]acl.Binding, error) {
	return nil, b.err
}
func (b *stubBackend) ScramCredentials(string) map[string]engine.ScramCredential { return nil }
func (b *stubBackend) ScramUsers() []string                                      { return nil }
func (b *stubBackend) ScramSecret() []byte                                       { return nil }
func (b *stubBackend) ReassignPartition(context.Context, string, int32, []uint64) error {
	return b.err
}
func (b *stubBackend) ListReassignments(...string) []engine.Reassignment { return nil }
func (b *stubBackend) AddBroker(context.Context, uint64, string) error   { return b.err }
func (b *stubBackend) RemoveBroker(context.Context, uint64) error        { return b.err }
func (b *stubBackend) AlterScramCredentials(context.Context, string, engine.ScramChange) error {
	return b.err
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// doneWaiter is a produce that succeeded at offset 0.
type doneWaiter struct{}

func (doneWaiter) Wait(context.Context) (engine.ProduceResult, error) {
	return engine.ProduceResult{LogAppendTime: -1}, nil
}
