package engine

import (
	"time"

	"github.com/chronik-io/chronik/segment"
	"github.com/chronik-io/chronik/shards"
)

// Hook is any of the Hook* interfaces below. Config.Hooks holds hooks; the
// engine calls each one that implements an interface, in the order given.
// Every hook must be safe for concurrent use and fast: it runs on the
// produce, fetch or Raft event path (count, do not block).
type Hook any

// HookProduce is called after every ProduceBatch, Produce and
// ProduceBatchAsync that reached the partition leader, once its outcome is
// known. bytes is the size of the produced batches, records their record
// count; d runs from the call to the outcome; err is nil on success.
type HookProduce interface {
	OnProduce(topic string, partition int32, bytes, records int, d time.Duration, err error)
}

// HookFetch is called after every Fetch that returned data or an error;
// bytes and records count what was returned.
type HookFetch interface {
	OnFetch(topic string, partition int32, bytes, records int, err error)
}

// HookLeaderChange is called when this broker learns that a Raft group's
// leader changed (from dragonboat's leader events). topic is "__meta" for
// the metadata group and "" with partition -1 for a group this broker no
// longer knows; leader is a broker id, 0 when there is none; term is the
// Raft term. It runs on a dragonboat goroutine.
type HookLeaderChange interface {
	OnLeaderChange(topic string, partition int32, leader uint64, term uint64)
}

// HookRaft is told how long the Raft path of this broker's replicas takes.
// topic names the replica's topic ("__meta" for the metadata group).
type HookRaft interface {
	// OnCommit: one proposal this broker made as leader (a produce, or a
	// __meta command), from the proposal to its applied result; err is nil
	// when it committed.
	OnCommit(topic string, d time.Duration, err error)
	// OnApply: one batch of committed entries (entries of them) written to
	// a partition replica's segment log in d.
	OnApply(topic string, entries int, d time.Duration)
	// OnFsync: one fsync of a partition replica's segment log.
	OnFsync(topic string, d time.Duration)
	// OnSnapshot: a partition replica streamed bytes into a Raft snapshot
	// (sent, for a follower that fell behind the leader's log) or restored
	// bytes from one (!sent).
	OnSnapshot(topic string, sent bool, bytes int64)
}

// hooks holds Config.Hooks split by interface, so the hot paths only loop
// over the hooks that care.
type hooks struct {
	produce []HookProduce
	fetch   []HookFetch
	leader  []HookLeaderChange
	raft    []HookRaft
}

func newHooks(hs []Hook) hooks {
	var h hooks
	for _, x := range hs {
		if p, ok := x.(HookProduce); ok {
			h.produce = append(h.produce, p)
		}
		if f, ok := x.(HookFetch); ok {
			h.fetch = append(h.fetch, f)
		}
		if l, ok := x.(HookLeaderChange); ok {
			h.leader = append(h.leader, l)
		}
		if r, ok := x.(HookRaft); ok {
			h.raft = append(h.raft, r)
		}
	}
	return h
}

// onProduce reports a produce whose batches validation summarised (no
// second parse of the batches).
func (h *hooks) onProduce(topic string, partition int32, sum shards.BatchSummary, start time.Time, err error) {
	if len(h.produce) == 0 {
		return
	}
	d := time.Since(start)
	for _, p := range h.produce {
		p.OnProduce(topic, partition, sum.Bytes, sum.Records, d, err)
	}
}

func (h *hooks) onFetch(topic string, partition int32, batches []byte, err error) {
	if len(h.fetch) == 0 {
		return
	}
	n := countRecords(batches)
	for _, f := range h.fetch {
		f.OnFetch(topic, partition, len(batches), n, err)
	}
}

// countRecords sums the record counts of the batch headers in b, without
// decoding records; a damaged tail is not counted.
func countRecords(b []byte) int {
	n := 0
	segment.EachBatch(b, func(h segment.BatchHeader, _ []byte) error {
		n += int(h.RecordCount)
		return nil
	})
	return n
}

func (h *hooks) onCommit(topic string, start time.Time, err error) {
	if len(h.raft) == 0 {
		return
	}
	d := time.Since(start)
	for _, r := range h.raft {
		r.OnCommit(topic, d, err)
	}
}

// replicaObserver passes a partition state machine's timings to the
// HookRaft hooks.
type replicaObserver struct {
	topic string
	hooks []HookRaft
}

var _ shards.Observer = replicaObserver{}

func (o replicaObserver) Applied(entries int, d time.Duration) {
	for _, r := range o.hooks {
		r.OnApply(o.topic, entries, d)
	}
}

func (o replicaObserver) Synced(d time.Duration) {
	for _, r := range o.hooks {
		r.OnFsync(o.topic, d)
	}
}

func (o replicaObserver) Snapshot(saved bool, bytes int64) {
	for _, r := range o.hooks {
		r.OnSnapshot(o.topic, saved, bytes)
	}
}

// observer returns the shards.Observer of a replica of topic, nil when no
// hook wants Raft timings.
func (h *hooks) observer(topic string) shards.Observer {
	if len(h.raft) == 0 {
		return nil
	}
	return replicaObserver{topic: topic, hooks: h.raft}
}
