package coordinator

// A read-only snapshot of the groups this broker coordinates, for metrics.

import "sort"

// GroupSnapshot is one group coordinated here as metrics see it: its
// state, member count and committed offsets (from memory, no Raft read).
type GroupSnapshot struct {
	Name    string
	State   string // Empty, PreparingRebalance, CompletingRebalance or Stable; consumer groups: Empty, Assigning, Reconciling, Stable
	Members int
	// Offsets are the committed offsets, sorted by topic and partition;
	// offsets pending in open transactions are not included.
	Offsets []CommittedOffset
}

// CommittedOffset is a group's committed offset of one partition.
type CommittedOffset struct {
	Topic     string
	Partition int32
	Offset    int64
}

// Snapshot returns the live groups of the loaded __consumer_offsets
// partitions this broker leads, in no order. A partition still loading is
// left out. It only takes the groups' locks, briefly, one at a time.
func (c *Coordinator) Snapshot() []GroupSnapshot {
	var out []GroupSnapshot
	for _, cp := range c.set.loaded() {
		for _, g := range cp.groupList() {
			g.mu.Lock()
			if g.dead {
				g.mu.Unlock()
				continue
			}
			s := GroupSnapshot{Name: g.name, State: g.state.String(), Members: len(g.members),
				Offsets: make([]CommittedOffset, 0, len(g.offsets))}
			if g.consumer != nil {
				s.State, s.Members = g.consumer.state(), len(g.consumer.members)
			}
			for tp, oc := range g.offsets {
				s.Offsets = append(s.Offsets, CommittedOffset{Topic: tp.topic, Partition: tp.partition, Offset: oc.offset})
			}
			g.mu.Unlock()
			sort.Slice(s.Offsets, func(i, j int) bool {
				a, b := s.Offsets[i], s.Offsets[j]
				return a.Topic < b.Topic || (a.Topic == b.Topic && a.Partition < b.Partition)
			})
			out = append(out, s)
		}
	}
	return out
}
