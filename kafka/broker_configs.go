package kafka

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// HTTPAddrConfig is the broker config, reported by DescribeConfigs for a
// BROKER resource, that holds the broker's HTTP address (health, metrics,
// /v1/partitions): how `chronik cluster status` finds every broker's
// per-replica state from a Kafka address alone.
const HTTPAddrConfig = "chronik.http.addr"

// brokerConfig is one read-only broker setting as DescribeConfigs reports
// it: the Kafka name of a `chronik start` setting and its value.
type brokerConfig struct {
	name  string
	value string
	typ   kmsg.ConfigType
}

// brokerConfigs lists this broker's settings under their Kafka names.
func (s *Server) brokerConfigs(v *metaView) []brokerConfig {
	id := s.be.NodeID()
	g := s.cfg.Groups
	g = g.WithDefaults()
	out := []brokerConfig{
		{"broker.id", strconv.FormatUint(id, 10), kmsg.ConfigTypeInt},
		{"auto.create.topics.enable", strconv.FormatBool(s.cfg.AutoCreateTopics), kmsg.ConfigTypeBoolean},
		{"socket.request.max.bytes", strconv.Itoa(int(s.cfg.MaxFrameBytes)), kmsg.ConfigTypeInt},
		{"max.connections", strconv.Itoa(s.cfg.MaxConnections), kmsg.ConfigTypeInt},
		{"queued.max.request.bytes", strconv.FormatInt(s.cfg.QueuedMaxRequestBytes, 10), kmsg.ConfigTypeLong},
		{"connections.max.idle.ms", strconv.FormatInt(s.cfg.IdleTimeout.Milliseconds(), 10), kmsg.ConfigTypeLong},
		{"log.dirs", s.cfg.LogDir, kmsg.ConfigTypeString},
		{"offsets.topic.num.partitions", strconv.Itoa(int(g.OffsetsTopicPartitions)), kmsg.ConfigTypeInt},
		{"offsets.retention.minutes", strconv.FormatInt(int64(g.OffsetsRetention.Minutes()), 10), kmsg.ConfigTypeInt},
		{"group.initial.rebalance.delay.ms", strconv.FormatInt(g.InitialRebalanceDelay.Milliseconds(), 10), kmsg.ConfigTypeInt},
		{"group.min.session.timeout.ms", strconv.FormatInt(g.MinSessionTimeout.Milliseconds(), 10), kmsg.ConfigTypeInt},
		{"group.max.session.timeout.ms", strconv.FormatInt(g.MaxSessionTimeout.Milliseconds(), 10), kmsg.ConfigTypeInt},
	}
	tx := s.cfg.Txns.WithDefaults()
	out = append(out,
		brokerConfig{"transaction.state.log.num.partitions", strconv.Itoa(int(tx.TopicPartitions)), kmsg.ConfigTypeInt},
		brokerConfig{"transaction.max.timeout.ms", strconv.FormatInt(tx.MaxTimeout.Milliseconds(), 10), kmsg.ConfigTypeInt},
		brokerConfig{"transactional.id.expiration.ms", strconv.FormatInt(tx.IDExpiration.Milliseconds(), 10), kmsg.ConfigTypeInt},
		brokerConfig{"transaction.abort.timed.out.transaction.cleanup.interval.ms", strconv.FormatInt(tx.AbortCheckInterval.Milliseconds(), 10), kmsg.ConfigTypeInt})
	if tx.TopicReplicationFactor > 0 {
		out = append(out, brokerConfig{"transaction.state.log.replication.factor", strconv.Itoa(int(tx.TopicReplicationFactor)), kmsg.ConfigTypeShort})
	}
	if s.cfg.DefaultPartitions > 0 {
		out = append(out, brokerConfig{"num.partitions", strconv.Itoa(int(s.cfg.DefaultPartitions)), kmsg.ConfigTypeInt})
	}
	if b, ok := v.brokers[id]; ok {
		out = append(out, brokerConfig{"advertised.listeners", advertisedListeners(b), kmsg.ConfigTypeList})
		if b.Rack != "" {
			out = append(out, brokerConfig{"broker.rack", b.Rack, kmsg.ConfigTypeString})
		}
	}
	if s.cfg.HTTPAddr != "" {
		out = append(out, brokerConfig{HTTPAddrConfig, s.cfg.HTTPAddr, kmsg.ConfigTypeString})
	}
	return out
}

// advertisedListeners formats b's listeners as Kafka's
// advertised.listeners: "PLAINTEXT://h:9092,SSL://h:9093" (sorted by name).
func advertisedListeners(b engine.Broker) string {
	if len(b.Listeners) == 0 {
		return string(ProtocolPlaintext) + "://" + b.KafkaAddr
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(b.Listeners)) {
		parts = append(parts, name+"://"+b.Listeners[name])
	}
	return strings.Join(parts, ",")
}
