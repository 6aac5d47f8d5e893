package coordinator

// KIP-848 consumer groups seen by the other group APIs: ConsumerGroupDescribe,
// offset commits by members (member epochs instead of generations), and the
// classic protocol meeting a consumer group.

import (
	"regexp"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// compileSubscription compiles a subscribed topic regex as Kafka matches
// it (the whole topic name); nil if it does not compile.
func compileSubscription(re string) *regexp.Regexp {
	r, err := regexp.Compile("^(?:" + re + ")$")
	if err != nil {
		return nil
	}
	return r
}

// DescribeConsumerGroup describes a consumer group coordinated here, as
// ConsumerGroupDescribe answers it (AuthorizedOperations left to the
// caller). Errors: GROUP_ID_NOT_FOUND (no such group, or a classic group),
// NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE.
func (c *Coordinator) DescribeConsumerGroup(name string) (kmsg.ConsumerGroupDescribeResponseGroup, *kerr.Error) {
	out := kmsg.NewConsumerGroupDescribeResponseGroup()
	out.Group = name
	cp, e := c.partitionOf(name)
	if e != nil {
		return out, e
	}
	g := cp.lookup(name, false)
	if g == nil {
		return out, kerr.GroupIDNotFound
	}
	defer g.mu.Unlock()
	cg := g.consumer
	if cg == nil {
		return out, kerr.GroupIDNotFound
	}
	out.State = cg.state()
	out.Epoch, out.AssignmentEpoch = cg.epoch, cg.assignmentEpoch
	out.AssignorName = cg.groupAssignor()
	names := map[[16]byte]string{}
	for _, t := range c.topicsView() {
		names[t.id] = t.name
	}
	ids := make([]string, 0, len(cg.members))
	for id := range cg.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		m := cg.members[id]
		dm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
		dm.MemberID, dm.InstanceID, dm.RackID, dm.MemberEpoch = m.id, m.meta.instanceID, m.meta.rackID, m.epoch
		dm.ClientID, dm.ClientHost = m.meta.clientID, m.meta.clientHost
		dm.SubscribedTopics = append([]string{}, m.meta.topics...)
		dm.SubscribedTopicRegex = m.meta.regex
		dm.Assignment = describeAssignment(m.assigned, names)
		dm.TargetAssignment = describeAssignment(m.target, names)
		dm.MemberType = 1 // a member of the consumer protocol (v1)
		out.Members = append(out.Members, dm)
	}
	return out, nil
}

func describeAssignment(a assignment, names map[[16]byte]string) kmsg.Assignment {
	out := kmsg.NewAssignment()
	for _, id := range a.sortedIDs() {
		t := kmsg.NewAssignmentTopicPartition()
		t.TopicID, t.Topic = id, names[id]
		t.Partitions = append([]int32{}, a[id]...)
		out.TopicPartitions = append(out.TopicPartitions, t)
	}
	return out
}

// checkConsumerCommit validates an offset commit to a consumer group, as
// Kafka's ConsumerGroup.validateOffsetCommit: without a member (epoch
// -1, no member id) only while the group has no members; else the member
// must exist (UNKNOWN_MEMBER_ID) and commit at its member epoch, or
// (KIP-1251) at an older epoch for partitions it has owned since then
// (STALE_MEMBER_EPOCH otherwise).
func (g *group) checkConsumerCommit(memberID string, epoch int32, tps []topicPartition) *kerr.Error {
	cg := g.consumer
	if epoch < 0 && memberID == "" {
		if len(cg.members) > 0 {
			return kerr.UnknownMemberID
		}
		return nil
	}
	m := cg.members[memberID]
	if m == nil {
		return kerr.UnknownMemberID
	}
	if epoch == m.epoch {
		return nil
	}
	if epoch > m.epoch || len(tps) == 0 {
		return kerr.StaleMemberEpoch
	}
	ids := map[string][16]byte{}
	for _, t := range g.cp.c.topicsView() {
		ids[t.name] = t.id
	}
	for _, tp := range tps {
		id, ok := ids[tp.topic]
		if !ok {
			return kerr.StaleMemberEpoch
		}
		at, ok := m.assignedAt[topicPartitionID{id, tp.partition}]
		if !ok || at > epoch {
			return kerr.StaleMemberEpoch
		}
	}
	return nil
}

// consumerSubscribed adds the topics the members of a consumer group
// subscribe to (OffsetDelete refuses to delete their offsets).
func (g *group) consumerSubscribed(out map[string]bool) {
	if g.consumer == nil {
		return
	}
	for _, t := range g.consumerTopics() {
		out[t.name] = true
	}
}
