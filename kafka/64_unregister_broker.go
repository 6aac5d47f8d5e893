package kafka

// UnregisterBroker: v0
//
// Behaviour:
//   - Removes broker BrokerID from the cluster (engine.Engine.RemoveBroker):
//     from __meta's broker table (Metadata no longer lists it), from
//     __meta's Raft group and from every broker's Raft registry. The
//     removed broker stops serving; its id is never taken back.
//   - Refused with INVALID_REQUEST while any partition has, or is moving,
//     a replica on the broker (move them off first: `chronik cluster
//     remove-broker` does), or when the reachable __meta voters left would
//     not form a quorum; BROKER_ID_NOT_REGISTERED for an unknown id.
//     Unregistering a removed broker again succeeds.
//   - Any broker answers: the request goes to __meta from there. Send it
//     to a broker other than the one removed.
//   - Authorization: Alter on the cluster, else CLUSTER_AUTHORIZATION_FAILED.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(64, 0, 0, handleUnregisterBroker) }

func handleUnregisterBroker(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.UnregisterBrokerRequest)
	resp := req.ResponseKind().(*kmsg.UnregisterBrokerResponse)
	resp.Version = r.version
	if !s.authorizeCluster(r, acl.Alter) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp, nil
	}
	if req.BrokerID <= 0 {
		resp.ErrorCode = kerr.BrokerIDNotRegistered.Code
		return resp, nil
	}
	ctx, cancel := adminContext(ctx, 0)
	defer cancel()
	if err := s.be.RemoveBroker(ctx, uint64(req.BrokerID)); err != nil {
		resp.ErrorCode = errorCode(err)
		resp.ErrorMessage = errorMessage(err)
		return resp, nil
	}
	s.log.Info("broker unregistered", "broker", req.BrokerID)
	return resp, nil
}
