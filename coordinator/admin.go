package coordinator

// Groups as a whole: DescribeGroups, ListGroups and DeleteGroups.

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik-io/chronik/engine"
)

// GroupDescription is a group's state as DescribeGroups shows it.
type GroupDescription struct {
	// State is Empty, PreparingRebalance, CompletingRebalance, Stable or
	// Dead (the group does not exist).
	State        string
	ProtocolType string
	// Protocol is the selected protocol, set while Stable or
	// CompletingRebalance.
	Protocol   string
	Generation int32
	// Members are sorted by member id.
	Members []MemberDescription
}

// MemberDescription is one member of a group. Metadata (its subscription
// for the selected protocol) and Assignment are set while the group is
// Stable or CompletingRebalance.
type MemberDescription struct {
	ID         string
	InstanceID *string
	ClientID   string
	ClientHost string
	Metadata   []byte
	Assignment []byte
}

// DescribeGroup describes a group coordinated here; one that does not
// exist is Dead with no error. Errors: NOT_COORDINATOR,
// COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE (State Dead).
func (c *Coordinator) DescribeGroup(name string) (GroupDescription, *kerr.Error) {
	d := GroupDescription{State: groupDead.String()}
	cp, e := c.partitionOf(name)
	if e != nil {
		return d, e
	}
	if g := cp.lookup(name, false); g != nil {
		d = g.describe()
		g.mu.Unlock()
	}
	return d, nil
}

func (g *group) describe() GroupDescription {
	if g.consumer != nil {
		// Not a classic group: ConsumerGroupDescribe describes it.
		return GroupDescription{State: groupDead.String()}
	}
	d := GroupDescription{State: g.state.String(), ProtocolType: g.protocolType, Generation: g.generation}
	active := g.state == groupStable || g.state == groupCompletingRebalance
	if active {
		d.Protocol = g.protocol
	}
	ids := make([]string, 0, len(g.members))
	for id := range g.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		m := g.members[id]
		dm := MemberDescription{ID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost}
		if active {
			for _, p := range m.join.Protocols {
				if p.Name == g.protocol {
					dm.Metadata = p.Metadata
				}
			}
			dm.Assignment = m.assignment
		}
		d.Members = append(d.Members, dm)
	}
	return d
}

// GroupListing is one group ListGroups answers.
type GroupListing struct {
	Name         string
	ProtocolType string
	// State is a classic group's state, or a consumer group's: Empty,
	// Assigning, Reconciling or Stable.
	State string
	// Type is "classic" or "consumer" (KIP-848).
	Type string
}

// ListGroups lists the groups this broker coordinates, in no order.
// Errors: COORDINATOR_LOAD_IN_PROGRESS while a partition led here is still
// loading.
func (c *Coordinator) ListGroups() ([]GroupListing, *kerr.Error) {
	if c.set.loading() {
		return nil, kerr.CoordinatorLoadInProgress
	}
	var out []GroupListing
	for _, cp := range c.set.loaded() {
		for _, g := range cp.groupList() {
			g.mu.Lock()
			l := GroupListing{Name: g.name, ProtocolType: g.protocolType, State: g.state.String(), Type: "classic"}
			if g.consumer != nil {
				l.ProtocolType, l.State, l.Type = "consumer", g.consumer.state(), "consumer"
			}
			dead := g.dead
			g.mu.Unlock()
			if !dead {
				out = append(out, l)
			}
		}
		for _, g := range cp.shareList() {
			g.mu.Lock()
			l := GroupListing{Name: g.name, ProtocolType: "share", State: "Empty", Type: "share"}
			if len(g.members) > 0 {
				l.State = "Stable"
			}
			dead := g.dead
			g.mu.Unlock()
			if !dead {
				out = append(out, l)
			}
		}
	}
	return out, nil
}

// DeleteGroup deletes an empty group: tombstones for its offsets and
// metadata are written through Raft, then it is forgotten. It returns nil,
// or INVALID_GROUP_ID, GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP,
// NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE (a write that timed out).
func (c *Coordinator) DeleteGroup(name string) *kerr.Error {
	if name == "" {
		return kerr.InvalidGroupID
	}
	cp, e := c.partitionOf(name)
	if e != nil {
		return e
	}
	g := cp.lookup(name, false)
	if g == nil {
		sg := cp.shareLookup(name, false)
		if sg == nil {
			return kerr.GroupIDNotFound
		}
		defer sg.mu.Unlock()
		return sg.delete()
	}
	defer g.mu.Unlock()
	if g.state != groupEmpty || len(g.members) > 0 || (g.consumer != nil && len(g.consumer.members) > 0) {
		return kerr.NonEmptyGroup
	}
	return g.tombstone()
}

// tombstone deletes an empty group: tombstones for its offsets and
// metadata, then it is dead and forgotten. g is locked.
func (g *group) tombstone() *kerr.Error {
	var recs []engine.Record
	for tp := range g.offsets {
		recs = append(recs, offsetRecord(g.name, tp.topic, tp.partition, nil))
	}
	recs = append(recs, g.consumerTombstones()...)
	recs = append(recs, groupRecord(g.name, nil))
	if err := g.cp.write(recs...); err != nil {
		g.cp.c.log.Warn("delete group failed", "group", g.name, "err", err)
		return writeError(err)
	}
	g.kill(kerr.GroupIDNotFound)
	g.cp.remove(g)
	return nil
}
