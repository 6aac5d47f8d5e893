package kafka

// DeleteTopics: v1-6
//
// Behaviour:
//   - Each topic is deleted through the engine (a __meta command); unknown
//     names answer UNKNOWN_TOPIC_OR_PARTITION, unknown IDs (v6)
//     UNKNOWN_TOPIC_ID. TimeoutMillis bounds each deletion.
//   - Authorization: Delete on the topic, else TOPIC_AUTHORIZATION_FAILED.
//
// Version notes:
//   - v2: ThrottleMillis semantics
//   - v4: flexible versions
//   - v5: ErrorMessage
//   - v6: topics by name or ID

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(20, 1, 6, handleDeleteTopics) }

func handleDeleteTopics(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	resp.Version = r.version
	ctx, cancel := adminContext(ctx, req.TimeoutMillis)
	defer cancel()

	type target struct {
		name *string
		id   [16]byte
	}
	var targets []target
	if r.version >= 6 {
		for _, t := range req.Topics {
			targets = append(targets, target{t.Topic, t.TopicID})
		}
	} else {
		for _, n := range req.TopicNames {
			targets = append(targets, target{name: &n})
		}
	}

	v := s.view()
	for _, tg := range targets {
		t := kmsg.NewDeleteTopicsResponseTopic()
		t.Topic, t.TopicID = tg.name, tg.id
		name := ""
		switch {
		case tg.name != nil:
			name = *tg.name
			if ti := v.byName[name]; ti != nil {
				t.TopicID = ti.ID
			}
		case v.byID[tg.id] != nil:
			name = v.byID[tg.id].Name
			t.Topic = &name
		default:
			t.ErrorCode = kerr.UnknownTopicID.Code
			resp.Topics = append(resp.Topics, t)
			continue
		}
		if !s.authorize(r, acl.Delete, acl.Topic, name) {
			t.ErrorCode = kerr.TopicAuthorizationFailed.Code
			resp.Topics = append(resp.Topics, t)
			continue
		}
		if err := s.be.DeleteTopic(ctx, name); err != nil {
			t.ErrorCode = controllerErrorCode(err)
			t.ErrorMessage = errorMessage(err)
		} else {
			s.log.Info("deleted topic", "topic", name)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp, nil
}
