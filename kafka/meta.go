package kafka

import (
	"context"
	"errors"
	"net"
	"strconv"

	"github.com/chronik-io/chronik/engine"
)

// metaView indexes one engine.Metadata snapshot for a request's lookups.
type metaView struct {
	md      engine.Metadata
	byName  map[string]*engine.TopicInfo
	byID    map[[16]byte]*engine.TopicInfo
	brokers map[uint64]engine.Broker
}

// view takes a metadata snapshot: of the named topics only, or of every
// topic when none is named.
func (s *Server) view(topics ...string) *metaView {
	md := s.be.Metadata(topics...)
	v := &metaView{
		md:      md,
		byName:  make(map[string]*engine.TopicInfo, len(md.Topics)),
		byID:    make(map[[16]byte]*engine.TopicInfo, len(md.Topics)),
		brokers: make(map[uint64]engine.Broker, len(md.Brokers)),
	}
	for i := range md.Topics {
		t := &md.Topics[i]
		v.byName[t.Name] = t
		v.byID[t.ID] = t
	}
	for _, b := range md.Brokers {
		v.brokers[b.ID] = b
	}
	return v
}

// brokerView is a metadata snapshot of the brokers only: no topic is
// named "" (an invalid name), so it describes none, and costs nothing per
// topic. For requests that need only node endpoints.
func (s *Server) brokerView() *metaView { return s.view("") }

// partition returns a topic's partition, or nil.
func (v *metaView) partition(topic string, p int32) *engine.PartitionInfo {
	t := v.byName[topic]
	if t == nil || p < 0 || int(p) >= len(t.Partitions) {
		return nil
	}
	if pi := &t.Partitions[p]; pi.Partition == p {
		return pi
	}
	for i := range t.Partitions {
		if t.Partitions[i].Partition == p {
			return &t.Partitions[i]
		}
	}
	return nil
}

// endpoint is a broker's advertised Kafka address, split for the wire.
type endpoint struct {
	id   int32
	host string
	port int32
	rack *string
}

// endpoint returns the address broker id advertises on listener (the
// name of the listener the request came in on); ok is false when the broker
// is unknown or has no address on that listener.
func (v *metaView) endpoint(id uint64, listener string) (endpoint, bool) {
	b, ok := v.brokers[id]
	if !ok {
		return endpoint{}, false
	}
	addr := listenerAddr(b, listener)
	if addr == "" {
		return endpoint{}, false
	}
	host, port, ok := splitHostPort(addr)
	if !ok {
		return endpoint{}, false
	}
	ep := endpoint{id: int32(b.ID), host: host, port: port}
	if b.Rack != "" {
		r := b.Rack
		ep.rack = &r
	}
	return ep, true
}

// listenerAddr is the host:port b advertises on listener: its registered
// listener of that name or, for a broker that registered only KafkaAddr
// (an embedder, or state from before listeners), KafkaAddr, whatever the
// listener, since it is the one address that broker has. "" when none.
func listenerAddr(b engine.Broker, listener string) string {
	if len(b.Listeners) == 0 {
		return b.KafkaAddr
	}
	return b.Listeners[listener]
}

// endpoints returns every broker with an address on listener, in id order.
func (v *metaView) endpoints(listener string) []endpoint {
	var out []endpoint
	for _, b := range v.md.Brokers {
		if ep, ok := v.endpoint(b.ID, listener); ok {
			out = append(out, ep)
		}
	}
	return out
}

func splitHostPort(addr string) (string, int32, bool) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, false
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		return "", 0, false
	}
	return host, int32(port), true
}

// leaderOf returns a partition's leader as the wire wants it: -1 when none.
func leaderOf(pi *engine.PartitionInfo) int32 {
	if pi == nil || pi.Leader == 0 {
		return -1
	}
	return int32(pi.Leader)
}

// autoCreate creates topic with the default partition count; a concurrent
// creation by someone else counts as success.
func (s *Server) autoCreate(ctx context.Context, topic string) error {
	err := s.be.CreateTopic(ctx, topic, engine.TopicConfig{Partitions: s.cfg.DefaultPartitions})
	if err == nil {
		s.log.Info("auto-created topic", "topic", topic, "partitions", s.cfg.DefaultPartitions)
	}
	if errors.Is(err, engine.ErrTopicExists) {
		return nil
	}
	return err
}

func int32s(ids []uint64) []int32 {
	out := make([]int32, len(ids))
	for i, id := range ids {
		out[i] = int32(id)
	}
	return out
}
