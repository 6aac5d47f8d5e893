package kafka

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// gateBackend records ProduceAsync calls and holds each produce's outcome
// until the test releases it.
type gateBackend struct {
	stubBackend
	mu    sync.Mutex
	calls []string
	gates map[string]chan struct{}
}

func (g *gateBackend) ProduceAsync(_ context.Context, topic string, _ int32, _ []byte) (produceWaiter, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, topic)
	if g.gates[topic] == nil {
		g.gates[topic] = make(chan struct{})
	}
	return gateWaiter(g.gates[topic]), nil
}

func (g *gateBackend) called() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.calls...)
}

func (g *gateBackend) release(topic string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gates[topic] == nil {
		g.gates[topic] = make(chan struct{})
	}
	close(g.gates[topic])
}

type gateWaiter chan struct{}

func (w gateWaiter) Wait(ctx context.Context) (engine.ProduceResult, error) {
	select {
	case <-w:
		return engine.ProduceResult{LogAppendTime: -1}, nil
	case <-ctx.Done():
		return engine.ProduceResult{}, ctx.Err()
	}
}

func produceReq(topic string) *kmsg.ProduceRequest {
	pr := kmsg.NewPtrProduceRequest()
	pr.Version = 9
	pr.Acks = -1
	pr.TimeoutMillis = 30000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = topic
	pt.Partitions = append(pt.Partitions, kmsg.NewProduceRequestTopicPartition())
	pr.Topics = append(pr.Topics, pt)
	return pr
}

// Produce requests on one connection are proposed without waiting for the
// earlier ones to commit, and are still answered in order; a request of
// another kind waits for them.
func TestProducePipelining(t *testing.T) {
	g := &gateBackend{gates: map[string]chan struct{}{}}
	_, addr := serve(t, g, Config{})
	rc := dialRaw(t, addr)

	var frames []byte
	for i, topic := range []string{"a", "b", "c"} {
		frames = append(frames, encodeRequest(int32(i+1), "p", produceReq(topic))...)
	}
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 9
	frames = append(frames, encodeRequest(4, "p", md)...)
	rc.write(frames)

	// All three are proposed, in order, while none has committed.
	deadline := time.Now().Add(10 * time.Second)
	for len(g.called()) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("proposed %v; want a, b and c in flight together", g.called())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if c := g.called(); c[0] != "a" || c[1] != "b" || c[2] != "c" {
		t.Fatalf("proposal order %v, want a b c", c)
	}
	// Outcomes arrive out of order; answers do not.
	g.release("c")
	g.release("b")
	time.Sleep(50 * time.Millisecond)
	g.release("a")
	for i, topic := range []string{"a", "b", "c"} {
		resp := kmsg.NewPtrProduceResponse()
		resp.Version = 9
		rc.recv(int32(i+1), resp)
		if got := resp.Topics[0].Topic; got != topic || resp.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("answer %d is for %q (error %d), want %q", i+1, got, resp.Topics[0].Partitions[0].ErrorCode, topic)
		}
	}
	mresp := kmsg.NewPtrMetadataResponse()
	mresp.Version = 9
	rc.recv(4, mresp)
}
