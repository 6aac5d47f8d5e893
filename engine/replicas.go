package engine

import (
	"errors"
	"fmt"
	"hash/crc32"
	"slices"

	"github.com/chronik-io/chronik/segment"
)

// ReplicaStatus describes one partition replica hosted by this broker, as
// served to `chronik cluster status` (leader or follower alike).
type ReplicaStatus struct {
	Topic     string
	Partition int32
	Shard     uint64 // Raft group id
	Broker    uint64 // this broker
	PartitionStats
	// InFlight is the number of produce proposals in flight on this
	// replica (non-zero only on the leader).
	InFlight int
	// RaftLogEntries is how many entries this replica's Raft log holds
	// (bounded by Config.RaftLogRetainBytes and SnapshotEntries).
	RaftLogEntries uint64
	// Checksum is the CRC-32C of every stored batch byte in
	// [LogStartOffset, HighWatermark) when asked for, else 0. Offsets,
	// leader epochs and timestamps are assigned by the replicated state
	// machine, so equal ranges of caught-up replicas have equal checksums.
	Checksum uint32
	// Quarantine is set when this broker found the replica damaged and it
	// is quarantined or being rebuilt (see QuarantinedReplicas); such a
	// replica is listed even when it is not running.
	Quarantine *QuarantinedReplica `json:",omitempty"`
	// Stopped: the replica is not running (quarantined), so only Topic,
	// Partition, Shard, Broker and Quarantine are set.
	Stopped bool `json:",omitempty"`
}

// LocalReplicas returns the status of every partition replica this broker
// hosts, sorted by topic and partition, quarantined ones included (with
// Quarantine set). With checksums it also reads every running replica's
// whole log to checksum it (costly on large logs).
func (e *Engine) LocalReplicas(checksums bool) []ReplicaStatus {
	e.mu.Lock()
	parts := make([]*partition, 0, len(e.parts))
	for _, p := range e.parts {
		parts = append(parts, p)
	}
	e.mu.Unlock()
	quarantined := map[uint64]*QuarantinedReplica{}
	for _, q := range e.QuarantinedReplicas() {
		quarantined[q.Shard] = &q
	}
	out := make([]ReplicaStatus, 0, len(parts)+len(quarantined))
	for _, p := range parts {
		st, err := e.PartitionStats(p.topic, p.index)
		if err != nil {
			continue // deleted or stopped meanwhile
		}
		rs := ReplicaStatus{Topic: p.topic, Partition: p.index, Shard: p.shard, Broker: e.cfg.NodeID,
			PartitionStats: st, InFlight: len(p.inflight), Quarantine: quarantined[p.shard]}
		delete(quarantined, p.shard)
		if lr, err := e.nh.GetLogReader(p.shard); err == nil {
			if first, last := lr.GetRange(); last >= first {
				rs.RaftLogEntries = last - first + 1
			}
		}
		if checksums {
			crc, hw, err := e.checksum(p)
			if err != nil {
				e.log.Warn("checksum of a local replica", "topic", p.topic, "partition", p.index, "err", err)
			}
			rs.Checksum, rs.HighWatermark = crc, hw
		}
		out = append(out, rs)
	}
	for _, q := range quarantined { // not running: held, or before its rebuild starts
		out = append(out, ReplicaStatus{Topic: q.Topic, Partition: q.Partition, Shard: q.Shard, Broker: e.cfg.NodeID, Quarantine: q, Stopped: true})
	}
	slices.SortFunc(out, func(a, b ReplicaStatus) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return int(a.Partition - b.Partition)
	})
	return out
}

// checksum reads a local replica's log from its start up to the high
// watermark seen when it starts and returns the CRC-32C of the batch bytes
// and that high watermark.
func (e *Engine) checksum(p *partition) (uint32, int64, error) {
	start, end, err := p.sm.Offsets()
	if err != nil {
		return 0, 0, err
	}
	var crc uint32
	for off := start; off < end; {
		b, _, _, err := p.sm.Read(off, 1<<20)
		if err != nil {
			return crc, end, fmt.Errorf("read offset %d: %w", off, err)
		}
		next := off
		err = segment.EachBatch(b, func(h segment.BatchHeader, batch []byte) error {
			if h.BaseOffset >= end {
				return errStop
			}
			if h.LastOffset() < off {
				return nil
			}
			crc = crc32.Update(crc, castagnoli, batch)
			next = h.LastOffset() + 1
			return nil
		})
		if err != nil && err != errStop {
			return crc, end, fmt.Errorf("batches at offset %d: %w", off, err)
		}
		if next == off {
			return crc, end, fmt.Errorf("no progress reading offset %d", off)
		}
		off = next
	}
	return crc, end, nil
}

// castagnoli is the CRC-32C table of the per-replica log checksum.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errStop ends an EachBatch walk early.
var errStop = errors.New("stop")
