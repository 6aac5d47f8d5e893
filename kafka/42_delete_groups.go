package kafka

// DeleteGroups: v0-2
//
// Behaviour:
//   - Deletes empty groups: their offsets and metadata get tombstones in
//     __consumer_offsets (through Raft) and are forgotten. A group with
//     members is NON_EMPTY_GROUP, an unknown one GROUP_ID_NOT_FOUND, one
//     coordinated elsewhere NOT_COORDINATOR.
//
// Version notes:
//   - v1: ThrottleMillis
//   - v2: flexible versions

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

func init() { regKey(42, 0, 2, handleDeleteGroups) }

func handleDeleteGroups(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DeleteGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	resp.Version = r.version
	for _, name := range req.Groups {
		out := kmsg.NewDeleteGroupsResponseGroup()
		out.Group = name
		out.ErrorCode = s.groups.deleteGroup(name).Code
		resp.Groups = append(resp.Groups, out)
	}
	return resp, nil
}

func (c *coordinator) deleteGroup(name string) *kerr.Error {
	if name == "" {
		return kerr.InvalidGroupID
	}
	cp, e := c.partitionOf(name)
	if e != nil {
		return e
	}
	g := cp.lookup(name, false)
	if g == nil {
		return kerr.GroupIDNotFound
	}
	defer g.mu.Unlock()
	if g.state != groupEmpty || len(g.members) > 0 {
		return kerr.NonEmptyGroup
	}
	if e := g.tombstone(); e != nil {
		return e
	}
	return &kerr.Error{}
}

// tombstone deletes an empty group: tombstones for its offsets and
// metadata, then it is dead and forgotten. g is locked.
func (g *group) tombstone() *kerr.Error {
	var recs []engine.Record
	for tp := range g.offsets {
		recs = append(recs, offsetRecord(g.name, tp.topic, tp.partition, nil))
	}
	recs = append(recs, groupRecord(g.name, nil))
	if err := g.cp.write(recs...); err != nil {
		g.cp.c.log.Warn("delete group failed", "group", g.name, "err", err)
		return writeError(err)
	}
	g.kill(kerr.GroupIDNotFound)
	g.cp.remove(g)
	return nil
}
