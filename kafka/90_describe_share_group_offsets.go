package kafka

// DescribeShareGroupOffsets: v0-1 (KIP-932)
//
// Behaviour:
//   - On the group's coordinator: the share-partition start offset of each
//     requested partition (all initialized partitions when Topics is null),
//     -1 for one never initialized, with the leader epoch of its last
//     writer. Lag is not computed (-1).
//   - While the coordinator loads the request waits up to 10 s.
//   - A name that is no share group: GROUP_ID_NOT_FOUND; another broker's
//     group: NOT_COORDINATOR.
//   - Authorization: Describe on the group, else GROUP_AUTHORIZATION_FAILED;
//     Describe on each topic, else TOPIC_AUTHORIZATION_FAILED.
//
// Version notes:
//   - v1: Lag.

import (
	"context"
	"errors"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
	"github.com/chronik-io/chronik/coordinator"
)

func init() {
	regKey(90, 0, 1, handleDescribeShareGroupOffsets)
	regKey(91, 0, 0, handleAlterShareGroupOffsets)
	regKey(92, 0, 0, handleDeleteShareGroupOffsets)
}

func handleDescribeShareGroupOffsets(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeShareGroupOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeShareGroupOffsetsResponse)
	resp.Version = r.version
	v := s.view()
	az := s.topicAuthorizer(r, acl.Describe)
	for _, rg := range req.Groups {
		g := kmsg.NewDescribeShareGroupOffsetsResponseGroup()
		g.GroupID = rg.GroupID
		var offs []coordinator.ShareOffset
		e := kerr.GroupAuthorizationFailed
		if s.authorize(r, acl.Describe, acl.Group, rg.GroupID) {
			e = asKerr(retryLoading(ctx, false, func() error {
				var e *kerr.Error
				offs, e = s.groups.ShareGroupOffsets(rg.GroupID)
				return kerrOrNil(e)
			}))
		}
		if e != nil {
			g.ErrorCode, g.ErrorMessage = e.Code, kmsg.StringPtr(e.Message)
			resp.Groups = append(resp.Groups, g)
			continue
		}
		byTopic := map[string][]coordinator.ShareOffset{}
		for _, o := range offs {
			if t := v.byID[o.Topic]; t != nil {
				byTopic[t.Name] = append(byTopic[t.Name], o)
			}
		}
		topics := rg.Topics
		if topics == nil {
			for _, name := range sortedKeys(byTopic) {
				rt := kmsg.NewDescribeShareGroupOffsetsRequestGroupTopic()
				rt.Topic = name
				for _, o := range byTopic[name] {
					rt.Partitions = append(rt.Partitions, o.Partition)
				}
				slices.Sort(rt.Partitions)
				topics = append(topics, rt)
			}
		}
		for _, rt := range topics {
			t := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopic()
			t.Topic = rt.Topic
			ti := v.byName[rt.Topic]
			if ti != nil {
				t.TopicID = ti.ID
			}
			for _, p := range rt.Partitions {
				rp := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopicPartition()
				rp.Partition, rp.StartOffset, rp.LeaderEpoch, rp.Lag = p, -1, -1, -1
				switch {
				case !az.ok(rt.Topic):
					rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				case ti == nil:
					rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				default:
					for _, o := range byTopic[rt.Topic] {
						if o.Partition == p {
							rp.StartOffset, rp.LeaderEpoch = o.StartOffset, o.LeaderEpoch
						}
					}
				}
				t.Partitions = append(t.Partitions, rp)
			}
			g.Topics = append(g.Topics, t)
		}
		resp.Groups = append(resp.Groups, g)
	}
	return resp, nil
}

// kerrOrNil returns e as an error, nil (not a nil *kerr.Error) if none.
func kerrOrNil(e *kerr.Error) error {
	if e == nil {
		return nil
	}
	return e
}

// asKerr is the *kerr.Error in err, nil if none (UNKNOWN_SERVER_ERROR for
// another error).
func asKerr(err error) *kerr.Error {
	if err == nil {
		return nil
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke
	}
	return kerr.UnknownServerError
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
