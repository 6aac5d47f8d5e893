package cli

// Cluster health gauges, computed at scrape time from this broker's view
// of __meta (engine.Metadata): no Raft traffic.

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chronik-io/chronik/engine"
)

// metadataSource is what clusterCollector reads of an *engine.Engine.
type metadataSource interface {
	NodeID() uint64
	Metadata(topics ...string) engine.Metadata
}

var (
	_ metadataSource       = (*engine.Engine)(nil)
	_ prometheus.Collector = (*clusterCollector)(nil)
)

// clusterCollector reports partition leadership and replica health. A
// replica is out of sync when its broker is not in the partition's ISR:
// this broker's Raft transport cannot reach it (engine.PartitionInfo.ISR);
// it is offline when, besides, its broker has not registered in __meta
// (never started, or no longer a member) or cannot be reached.
type clusterCollector struct {
	e               metadataSource
	led             *prometheus.Desc
	leaderless      *prometheus.Desc
	underReplicated *prometheus.Desc
	offline         *prometheus.Desc
}

func newClusterCollector(e metadataSource) *clusterCollector {
	return &clusterCollector{
		e: e,
		led: prometheus.NewDesc("chronik_partitions_led",
			"Partitions this broker leads.", nil, nil),
		leaderless: prometheus.NewDesc("chronik_leaderless_partitions",
			"Partitions of the cluster without a leader, as this broker sees them (its own view for replicas it hosts, else the leader last recorded in __meta); aggregate with max().", nil, nil),
		underReplicated: prometheus.NewDesc("chronik_under_replicated_partitions",
			"Partitions this broker leads with a replica out of the ISR (on a broker its Raft transport cannot reach, or that has not registered in __meta).", nil, nil),
		offline: prometheus.NewDesc("chronik_offline_replicas",
			"Partition replicas of the cluster on brokers not registered in __meta or out of the ISR, as this broker sees them; aggregate with max().", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.led, c.leaderless, c.underReplicated, c.offline} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	h := clusterHealthOf(c.e.Metadata(), c.e.NodeID())
	ch <- prometheus.MustNewConstMetric(c.led, prometheus.GaugeValue, float64(h.led))
	ch <- prometheus.MustNewConstMetric(c.leaderless, prometheus.GaugeValue, float64(h.leaderless))
	ch <- prometheus.MustNewConstMetric(c.underReplicated, prometheus.GaugeValue, float64(h.underReplicated))
	ch <- prometheus.MustNewConstMetric(c.offline, prometheus.GaugeValue, float64(h.offlineReplicas))
}

// clusterHealth is what clusterCollector reports.
type clusterHealth struct {
	led, leaderless, underReplicated, offlineReplicas int
}

// clusterHealthOf counts md's partitions as seen by broker self. A broker
// is online when md lists it with a Kafka address (it registered).
func clusterHealthOf(md engine.Metadata, self uint64) clusterHealth {
	online := map[uint64]bool{}
	for _, b := range md.Brokers {
		online[b.ID] = b.KafkaAddr != ""
	}
	var h clusterHealth
	for _, t := range md.Topics {
		for _, p := range t.Partitions {
			offline := 0
			for _, r := range p.Replicas {
				if !online[r] || !slices.Contains(p.ISR, r) {
					offline++
				}
			}
			h.offlineReplicas += offline
			switch p.Leader {
			case 0:
				h.leaderless++
			case self:
				h.led++
				if offline > 0 {
					h.underReplicated++
				}
			}
		}
	}
	return h
}
