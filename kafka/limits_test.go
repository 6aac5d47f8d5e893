package kafka

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// apiVersionsOK asserts the connection answers ApiVersions.
func apiVersionsOK(t *testing.T, rc *rawConn) {
	t.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "chronik-test", "1.0"
	if r := roundTrip[*kmsg.ApiVersionsResponse](rc, req); r.ErrorCode != 0 {
		t.Fatalf("ApiVersions: error %d", r.ErrorCode)
	}
}

// A connection beyond MaxConnections is accepted and closed at once; the
// others keep working, and once one closes a new one is served.
func TestMaxConnections(t *testing.T) {
	s, addr := serve(t, &stubBackend{}, Config{MaxConnections: 3})
	var conns []*rawConn
	for range 3 {
		rc := dialRaw(t, addr)
		apiVersionsOK(t, rc)
		conns = append(conns, rc)
	}
	extra := dialRaw(t, addr)
	extra.send(kmsg.NewPtrApiVersionsRequest())
	extra.expectClosed()
	if got := s.ConnectionsRejected(); got != 1 {
		t.Fatalf("ConnectionsRejected %d, want 1", got)
	}
	for _, rc := range conns {
		apiVersionsOK(t, rc)
	}

	conns[0].c.Close()
	waitFor(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.conns) == 2
	})
	apiVersionsOK(t, dialRaw(t, addr))
}

// sendPartialFrame declares a frame of size bytes and sends only part of it.
func sendPartialFrame(t *testing.T, addr string, size, sent int) *rawConn {
	t.Helper()
	rc := dialRaw(t, addr)
	b := binary.BigEndian.AppendUint32(nil, uint32(size))
	b = binary.BigEndian.AppendUint16(b, 18) // ApiVersions
	b = append(b, make([]byte, sent-2)...)
	rc.write(b)
	return rc
}

// Connections that declare large frames and send them slowly cannot make the
// broker buffer more than QueuedMaxRequestBytes: the ones past the budget
// are not read (backpressure), a normal produce waits its turn rather than
// failing, and closed connections give their bytes back.
func TestQueuedMaxRequestBytes(t *testing.T) {
	const frame, budget = 1 << 20, 3 << 20
	kc := newKafkaCluster(t, 1, Config{MaxFrameBytes: frame, QueuedMaxRequestBytes: budget})
	kc.CreateTopic(t, "t", engine.TopicConfig{Partitions: 1})
	s := kc.servers[1]
	addr := kc.addrs[1]

	var slow []*rawConn
	for range 10 {
		slow = append(slow, sendPartialFrame(t, addr, frame, 1000))
	}
	waitFor(t, func() bool { used, waiting := s.QueuedRequestBytes(); return used == budget && waiting == 7 })

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("v")}).FirstErr() }()
	waitFor(t, func() bool { _, waiting := s.QueuedRequestBytes(); return waiting == 8 })
	select {
	case err := <-done:
		t.Fatalf("produce finished (%v) while the request budget was spent", err)
	case <-time.After(300 * time.Millisecond):
	}
	if used, _ := s.QueuedRequestBytes(); used > budget {
		t.Fatalf("%d request bytes held, budget %d", used, budget)
	}

	for _, rc := range slow {
		rc.c.Close()
	}
	if err := <-done; err != nil {
		t.Fatalf("produce after the slow connections closed: %v", err)
	}
	waitFor(t, func() bool { used, waiting := s.QueuedRequestBytes(); return used == 0 && waiting == 0 })
}

// A slow connection the idle timeout closes gives its bytes back, and a
// frame larger than the whole budget closes its connection.
func TestQueuedRequestBytesReleased(t *testing.T) {
	s, addr := serve(t, &stubBackend{}, Config{QueuedMaxRequestBytes: 64 << 10, IdleTimeout: 300 * time.Millisecond})
	rc := sendPartialFrame(t, addr, 60<<10, 100)
	waitFor(t, func() bool { used, _ := s.QueuedRequestBytes(); return used == 60<<10 })
	rc.expectClosed()
	waitFor(t, func() bool { used, _ := s.QueuedRequestBytes(); return used == 0 })

	big := sendPartialFrame(t, addr, 65<<10, 100)
	big.expectClosed()
	if used, waiting := s.QueuedRequestBytes(); used != 0 || waiting != 0 {
		t.Fatalf("%d bytes held, %d waiting after an oversized frame", used, waiting)
	}
	apiVersionsOK(t, dialRaw(t, addr))
}
