package cli

// Consumer group gauges, computed at scrape time from the group
// coordinator's memory and the local replicas' high watermarks: no Raft
// traffic.

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chronik-io/chronik/coordinator"
	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/kafka"
)

// groupSource is what groupCollector reads of a *kafka.Server.
type groupSource interface {
	GroupSnapshot() []coordinator.GroupSnapshot
}

// watermarkSource is what groupCollector reads of an *engine.Engine.
type watermarkSource interface {
	PartitionStats(topic string, partition int32) (engine.PartitionStats, error)
}

var (
	_ groupSource          = (*kafka.Server)(nil)
	_ watermarkSource      = (*engine.Engine)(nil)
	_ prometheus.Collector = (*groupCollector)(nil)
)

// watchGroups adds the consumer group gauges of the groups s coordinates,
// with lags against e's local replicas.
func (m *promMetrics) watchGroups(s groupSource, e watermarkSource) {
	m.reg.MustRegister(newGroupCollector(s, e))
}

// groupCollector reports, for each group this broker coordinates, its
// members and, per committed partition this broker hosts a replica of,
// the committed offset and the lag behind that replica's high watermark.
type groupCollector struct {
	s         groupSource
	e         watermarkSource
	members   *prometheus.Desc
	committed *prometheus.Desc
	lag       *prometheus.Desc
}

func newGroupCollector(s groupSource, e watermarkSource) *groupCollector {
	gtp := []string{"group", "topic", "partition"}
	return &groupCollector{
		s: s, e: e,
		members: prometheus.NewDesc("chronik_consumer_group_members",
			"Members of a consumer group this broker coordinates.", []string{"group", "state"}, nil),
		committed: prometheus.NewDesc("chronik_consumer_group_committed_offset",
			"Committed offset of a group (coordinated by this broker) on a partition.", gtp, nil),
		lag: prometheus.NewDesc("chronik_consumer_group_lag",
			"High watermark of this broker's replica of the partition minus the group's committed offset (at least 0); only for partitions this broker hosts.", gtp, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *groupCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.members
	ch <- c.committed
	ch <- c.lag
}

// Collect implements prometheus.Collector.
func (c *groupCollector) Collect(ch chan<- prometheus.Metric) {
	for _, g := range c.s.GroupSnapshot() {
		ch <- prometheus.MustNewConstMetric(c.members, prometheus.GaugeValue, float64(g.Members), g.Name, g.State)
		for _, o := range g.Offsets {
			p := partLabel(o.Partition)
			ch <- prometheus.MustNewConstMetric(c.committed, prometheus.GaugeValue, float64(o.Offset), g.Name, o.Topic, p)
			st, err := c.e.PartitionStats(o.Topic, o.Partition)
			if err != nil {
				continue // no local replica (or the topic is gone): no lag known here
			}
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(max(st.HighWatermark-o.Offset, 0)), g.Name, o.Topic, p)
		}
	}
}
