package cli

// The broker's status snapshot: GET /v1/status and the status page (/ and
// /ui) show it, and `chronik cluster status` reads it from every broker.
// Its figures come from the functions the Prometheus collectors use
// (clusterHealthOf, groupLags, engine.LocalReplicas), so the page, the
// JSON and /metrics cannot disagree beyond the time between two reads.

import (
	"slices"
	"sync"
	"time"

	"github.com/chronik-io/chronik/engine"
)

// recentLeaderChanges is how many leader changes the status page lists.
const recentLeaderChanges = 50

// StatusResponse is the body of GET /v1/status: this broker's view of the
// cluster (its __meta view, its local replicas and the groups it
// coordinates), as /metrics reports it.
type StatusResponse struct {
	Broker     uint64    `json:"broker"`
	ClusterID  string    `json:"cluster_id"`
	Controller uint64    `json:"controller"` // broker leading __meta, 0 if none
	Time       time.Time `json:"time"`
	// Health holds the chronik_partitions_led, _leaderless_partitions,
	// _under_replicated_partitions and _offline_replicas gauges.
	Health        StatusHealth    `json:"health"`
	Brokers       []StatusBroker  `json:"brokers"`
	Topics        []StatusTopic   `json:"topics"`
	Groups        []StatusGroup   `json:"groups"`
	LeaderChanges []LeaderChange  `json:"leader_changes"` // newest first
	Quarantined   []StatusReplica `json:"quarantined,omitempty"`
}

// StatusHealth is clusterHealthOf's counts.
type StatusHealth struct {
	PartitionsLed   int `json:"partitions_led"`
	Leaderless      int `json:"leaderless_partitions"`
	UnderReplicated int `json:"under_replicated_partitions"`
	OfflineReplicas int `json:"offline_replicas"`
}

// StatusBroker is one broker of __meta.
type StatusBroker struct {
	ID        uint64 `json:"id"`
	KafkaAddr string `json:"kafka_addr"`
	Rack      string `json:"rack,omitempty"`
	Online    bool   `json:"online"` // registered (has a Kafka address)
	Leads     int    `json:"leads"`  // partitions it leads, as this broker sees them
	Self      bool   `json:"self"`
}

// StatusTopic is a topic with its partitions.
type StatusTopic struct {
	Name       string            `json:"name"`
	Internal   bool              `json:"internal"`
	Partitions []StatusPartition `json:"partitions"`
}

// StatusPartition is one partition: placement from __meta, health as
// clusterHealthOf counts it, and this broker's replica when it hosts one.
type StatusPartition struct {
	Partition       int32    `json:"partition"`
	Leader          uint64   `json:"leader"` // 0 if none known
	LeaderEpoch     int32    `json:"leader_epoch"`
	Replicas        []uint64 `json:"replicas"`
	Leaderless      bool     `json:"leaderless"`
	UnderReplicated bool     `json:"under_replicated"` // counted by this broker (it leads it)
	OfflineReplicas int      `json:"offline_replicas"`
	// Local is this broker's replica, nil when it hosts none.
	Local *StatusReplica `json:"local,omitempty"`
}

// StatusReplica is this broker's replica of a partition (the
// chronik_high_watermark, chronik_segment_bytes and, when it leads,
// chronik_partition_* gauges).
type StatusReplica struct {
	Topic          string `json:"topic"`
	Partition      int32  `json:"partition"`
	IsLeader       bool   `json:"is_leader"`
	HighWatermark  int64  `json:"high_watermark"`
	LogStartOffset int64  `json:"log_start_offset"`
	SizeBytes      int64  `json:"size_bytes"`
	Segments       int    `json:"segments"`
	Quarantine     string `json:"quarantine,omitempty"` // its quarantine state, if damaged
}

// LeaderChange is one Raft leader change this broker saw.
type LeaderChange struct {
	Time      time.Time `json:"time"`
	Topic     string    `json:"topic"` // "__meta" for metadata, "" for a group it no longer knows
	Partition int32     `json:"partition"`
	// OldLeader is the leader this broker saw before (0: none, or none
	// seen since it started); NewLeader 0 means the group has no leader.
	OldLeader uint64 `json:"old_leader"`
	NewLeader uint64 `json:"new_leader"`
	Term      uint64 `json:"term"`
}

// leaderChangeLog keeps the last leader changes of engine.HookLeaderChange
// (which runs on dragonboat goroutines) in a ring.
type leaderChangeLog struct {
	mu   sync.Mutex
	ring []LeaderChange
	next int // index of the next write
	full bool
	last map[leaderKey]uint64 // each group's last leader
}

type leaderKey struct {
	topic     string
	partition int32
}

func newLeaderChangeLog(n int) *leaderChangeLog {
	return &leaderChangeLog{ring: make([]LeaderChange, n), last: map[leaderKey]uint64{}}
}

func (l *leaderChangeLog) add(at time.Time, topic string, partition int32, leader, term uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := LeaderChange{Time: at, Topic: topic, Partition: partition, NewLeader: leader, Term: term}
	if topic != "" {
		k := leaderKey{topic, partition}
		c.OldLeader = l.last[k]
		l.last[k] = leader
	}
	l.ring[l.next] = c
	l.next = (l.next + 1) % len(l.ring)
	if l.next == 0 {
		l.full = true
	}
}

// recent returns the logged changes, newest first.
func (l *leaderChangeLog) recent() []LeaderChange {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.next
	if l.full {
		n = len(l.ring)
	}
	out := make([]LeaderChange, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, l.ring[(l.next-i+len(l.ring))%len(l.ring)])
	}
	return out
}

// statusSource is what a status snapshot reads.
type statusSource struct {
	e interface {
		metadataSource
		watermarkSource
		ClusterID() string
		LocalReplicas(checksums bool) []engine.ReplicaStatus
	}
	groups  groupSource // nil: no groups shown
	leaders *leaderChangeLog
}

// statusOf builds the status source of the broker's HTTP handler; m may
// be nil (no metrics: no groups nor leader changes).
func statusOf(e *engine.Engine, m *promMetrics) statusSource {
	s := statusSource{e: e}
	if m != nil {
		s.groups, s.leaders = m.groups, m.leaders
	}
	return s
}

// snapshot reads the status now.
func (s statusSource) snapshot() StatusResponse {
	self := s.e.NodeID()
	md := s.e.Metadata()
	h := clusterHealthOf(md, self)
	st := StatusResponse{
		Broker: self, ClusterID: s.e.ClusterID(), Controller: md.ControllerID, Time: time.Now().UTC(),
		Health: StatusHealth{PartitionsLed: h.led, Leaderless: h.leaderless, UnderReplicated: h.underReplicated,
			OfflineReplicas: h.offlineReplicas},
		Brokers:       []StatusBroker{},
		Topics:        []StatusTopic{},
		Groups:        []StatusGroup{},
		LeaderChanges: s.leaders.recent(),
	}
	if st.LeaderChanges == nil {
		st.LeaderChanges = []LeaderChange{}
	}
	local := map[leaderKey]*StatusReplica{}
	for _, r := range s.e.LocalReplicas(false) {
		sr := &StatusReplica{Topic: r.Topic, Partition: r.Partition, IsLeader: r.IsLeader, HighWatermark: r.HighWatermark,
			LogStartOffset: r.LogStartOffset, SizeBytes: r.SizeBytes, Segments: r.Segments}
		if r.Quarantine != nil {
			sr.Quarantine = string(r.Quarantine.State)
			st.Quarantined = append(st.Quarantined, *sr)
		}
		if r.Stopped {
			sr.HighWatermark = -1
		}
		local[leaderKey{r.Topic, r.Partition}] = sr
	}
	leads := map[uint64]int{}
	for _, t := range md.Topics {
		tt := StatusTopic{Name: t.Name, Internal: t.Internal, Partitions: make([]StatusPartition, 0, len(t.Partitions))}
		for _, p := range t.Partitions {
			ph := partitionHealth(md, t, p, self)
			tt.Partitions = append(tt.Partitions, StatusPartition{
				Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, Replicas: slices.Clone(p.Replicas),
				Leaderless: ph.leaderless > 0, UnderReplicated: ph.underReplicated > 0, OfflineReplicas: ph.offlineReplicas,
				Local: local[leaderKey{t.Name, p.Partition}],
			})
			if p.Leader != 0 {
				leads[p.Leader]++
			}
		}
		st.Topics = append(st.Topics, tt)
	}
	for _, b := range md.Brokers {
		st.Brokers = append(st.Brokers, StatusBroker{ID: b.ID, KafkaAddr: b.KafkaAddr, Rack: b.Rack,
			Online: b.KafkaAddr != "", Leads: leads[b.ID], Self: b.ID == self})
	}
	if s.groups != nil {
		st.Groups = groupLags(s.groups, s.e)
	}
	return st
}

// partitionHealth is clusterHealthOf of partition p of topic t alone, so
// each partition's flags are those the cluster gauges sum.
func partitionHealth(md engine.Metadata, t engine.TopicInfo, p engine.PartitionInfo, self uint64) clusterHealth {
	one := md
	t.Partitions = []engine.PartitionInfo{p}
	one.Topics = []engine.TopicInfo{t}
	return clusterHealthOf(one, self)
}
