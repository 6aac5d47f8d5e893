package kafka

// OffsetDelete: v0
//
// Behaviour:
//   - Deletes committed offsets of a group (tombstones through Raft). A
//     partition of a topic the group's members are subscribed to is
//     GROUP_SUBSCRIBED_TO_TOPIC (consumer groups only: their subscriptions are
//     decoded); an unknown group GROUP_ID_NOT_FOUND; a non-consumer group
//     with members NON_EMPTY_GROUP.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(47, 0, 0, handleOffsetDelete) }

func handleOffsetDelete(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	return s.groups.DeleteOffsets(r.kreq.(*kmsg.OffsetDeleteRequest)), nil
}
