package cli

// Consumer group gauges, computed at scrape time from the group
// coordinator's memory and the local replicas' high watermarks: no Raft
// traffic.

import (
	"slices"
	"strings"

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
// with lags against e's local replicas, and keeps s for the status page.
func (m *promMetrics) watchGroups(s groupSource, e watermarkSource) {
	m.reg.MustRegister(newGroupCollector(s, e))
	m.groups = s
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
	for _, g := range groupLags(c.s, c.e) {
		ch <- prometheus.MustNewConstMetric(c.members, prometheus.GaugeValue, float64(g.Members), g.Name, g.State)
		for _, o := range g.Offsets {
			p := partLabel(o.Partition)
			ch <- prometheus.MustNewConstMetric(c.committed, prometheus.GaugeValue, float64(o.Committed), g.Name, o.Topic, p)
			if o.HighWatermark < 0 {
				continue // no local replica (or the topic is gone): no lag known here
			}
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(o.Lag), g.Name, o.Topic, p)
		}
	}
}

// StatusGroup is a consumer group this broker coordinates, with its
// committed offsets and their lags (GET /v1/status, the status page and
// the chronik_consumer_group_* gauges).
type StatusGroup struct {
	Name    string `json:"name"`
	State   string `json:"state"`
	Members int    `json:"members"`
	// Lag is the sum of the known lags of Offsets.
	Lag     int64               `json:"lag"`
	Offsets []StatusGroupOffset `json:"offsets"`
}

// StatusGroupOffset is a group's committed offset of one partition.
type StatusGroupOffset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"`
	// HighWatermark is this broker's replica's, -1 when it hosts none (then
	// Lag is unknown and 0).
	HighWatermark int64 `json:"high_watermark"`
	Lag           int64 `json:"lag"` // HighWatermark - Committed, at least 0
}

// groupLags is the one computation of group lag behind both
// groupCollector and the status page: the groups s coordinates, sorted by
// name, with each committed offset's lag behind e's local replica.
func groupLags(s groupSource, e watermarkSource) []StatusGroup {
	snap := s.GroupSnapshot()
	slices.SortFunc(snap, func(a, b coordinator.GroupSnapshot) int { return strings.Compare(a.Name, b.Name) })
	out := make([]StatusGroup, 0, len(snap))
	for _, g := range snap {
		sg := StatusGroup{Name: g.Name, State: g.State, Members: g.Members, Offsets: make([]StatusGroupOffset, 0, len(g.Offsets))}
		for _, o := range g.Offsets {
			so := StatusGroupOffset{Topic: o.Topic, Partition: o.Partition, Committed: o.Offset, HighWatermark: -1}
			if st, err := e.PartitionStats(o.Topic, o.Partition); err == nil {
				so.HighWatermark = st.HighWatermark
				so.Lag = max(st.HighWatermark-o.Offset, 0)
				sg.Lag += so.Lag
			}
			sg.Offsets = append(sg.Offsets, so)
		}
		out = append(out, sg)
	}
	return out
}
