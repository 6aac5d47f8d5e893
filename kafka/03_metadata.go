package kafka

// Metadata: v0-12
//
// Behaviour:
//   - Brokers are the members that registered a Kafka address in __meta;
//     ControllerID is the broker leading __meta (-1 if none).
//   - A null topic list (v1+), or an empty one at v0, lists every topic.
//   - Unknown topics named in the request are created with the default
//     partition count when Config.AutoCreateTopics is on and the client
//     allows it (AllowAutoTopicCreation, v4+; always below v4). Creation
//     waits for partition leaders, so the answer is complete at once.
//   - A partition without a known leader reports LEADER_NOT_AVAILABLE and
//     leader -1.
//   - A topic asked for by an unknown ID (v10+) reports UNKNOWN_TOPIC_ID.
//   - Authorization: a listing of every topic leaves out the topics the
//     principal may not Describe; a topic named (or asked for by ID) that
//     it may not Describe reports TOPIC_AUTHORIZATION_FAILED. Auto-creation
//     needs Create on the cluster or the topic, else
//     TOPIC_AUTHORIZATION_FAILED.
//
// Version notes:
//   - v1: ControllerID, IsInternal, Rack; null topics means all
//   - v2: ClusterID
//   - v4: AllowAutoTopicCreation
//   - v5: OfflineReplicas
//   - v7: LeaderEpoch (the partition's Raft term)
//   - v9: flexible versions
//   - v10: TopicID (the topic UUID), lookup by ID
//   - v11: cluster authorized operations removed

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
	"github.com/chronik-io/chronik/engine"
)

func init() { regKey(3, 0, 12, handleMetadata) }

func handleMetadata(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	resp.Version = r.version

	all := req.Topics == nil || (r.version == 0 && len(req.Topics) == 0)
	// Named topics: describe only those (a client asking for one topic
	// should not cost every partition of the cluster). Topic IDs need the
	// whole view to be resolved.
	var names []string
	for _, rt := range req.Topics {
		if rt.Topic == nil {
			names = nil
			break
		}
		names = append(names, *rt.Topic)
	}
	if all {
		names = nil
	}
	v := s.view(names...)
	describable := s.topicAuthorizer(r, acl.Describe)

	// Auto-create what is missing, then take a fresh view.
	createErr := map[string]error{}
	if !all && s.cfg.AutoCreateTopics && (r.version < 4 || req.AllowAutoTopicCreation) {
		created := false
		for _, rt := range req.Topics {
			if rt.Topic == nil || *rt.Topic == "" || v.byName[*rt.Topic] != nil || !describable.ok(*rt.Topic) {
				continue
			}
			if _, done := createErr[*rt.Topic]; done {
				continue
			}
			if !s.mayCreateTopic(r, *rt.Topic) {
				createErr[*rt.Topic] = errTopicAuthz
				continue
			}
			err := s.autoCreate(ctx, *rt.Topic)
			createErr[*rt.Topic] = err
			created = created || err == nil
		}
		if created {
			v = s.view(names...)
		}
	}

	for _, ep := range v.endpoints(r.listener) {
		b := kmsg.NewMetadataResponseBroker()
		b.NodeID, b.Host, b.Port, b.Rack = ep.id, ep.host, ep.port, ep.rack
		resp.Brokers = append(resp.Brokers, b)
	}
	cid := v.md.ClusterID
	resp.ClusterID = &cid
	resp.ControllerID = -1
	if v.md.ControllerID != 0 {
		resp.ControllerID = int32(v.md.ControllerID)
	}

	if all {
		for i := range v.md.Topics {
			if describable.ok(v.md.Topics[i].Name) { // hide the others, as Kafka does
				resp.Topics = append(resp.Topics, metadataTopic(&v.md.Topics[i]))
			}
		}
		return resp, nil
	}
	for _, rt := range req.Topics {
		var ti *engine.TopicInfo
		if rt.Topic != nil {
			ti = v.byName[*rt.Topic]
		} else {
			ti = v.byID[rt.TopicID]
		}
		if (rt.Topic != nil && !describable.ok(*rt.Topic)) || (rt.Topic == nil && ti != nil && !describable.ok(ti.Name)) {
			t := kmsg.NewMetadataResponseTopic()
			t.Topic, t.TopicID = rt.Topic, rt.TopicID
			t.ErrorCode = kerr.TopicAuthorizationFailed.Code
			resp.Topics = append(resp.Topics, t)
			continue
		}
		if ti != nil {
			resp.Topics = append(resp.Topics, metadataTopic(ti))
			continue
		}
		t := kmsg.NewMetadataResponseTopic()
		t.Topic = rt.Topic
		t.TopicID = rt.TopicID
		switch {
		case rt.Topic == nil:
			t.ErrorCode = kerr.UnknownTopicID.Code
		case createErr[*rt.Topic] != nil:
			t.ErrorCode = errorCode(createErr[*rt.Topic])
		default:
			t.ErrorCode = kerr.UnknownTopicOrPartition.Code
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp, nil
}

func metadataTopic(ti *engine.TopicInfo) kmsg.MetadataResponseTopic {
	t := kmsg.NewMetadataResponseTopic()
	name := ti.Name
	t.Topic = &name
	t.TopicID = ti.ID
	t.IsInternal = ti.Internal
	for i := range ti.Partitions {
		pi := &ti.Partitions[i]
		p := kmsg.NewMetadataResponseTopicPartition()
		p.Partition = pi.Partition
		p.Leader = leaderOf(pi)
		p.LeaderEpoch = pi.LeaderEpoch
		if p.Leader < 0 {
			p.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		p.Replicas = int32s(pi.Replicas)
		p.ISR = int32s(pi.ISR)
		p.OfflineReplicas = []int32{}
		t.Partitions = append(t.Partitions, p)
	}
	return t
}
