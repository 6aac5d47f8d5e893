package kafka

// AddRaftVoter: v0-1
//
// Behaviour:
//   - Adds broker VoterID to the cluster (engine.Engine.AddBroker): the
//     Raft address of its listener named RAFT (else CONTROLLER, else the
//     first listener) goes into __meta, and so into every broker's Raft
//     registry, and the broker becomes a voter of __meta. Every chronik
//     broker is both a broker and a controller voter, so this is how a
//     broker joins a running cluster; it then starts (`chronik start
//     --join`, which sends this request itself) and registers its Kafka
//     listeners. Adding a member again with the same address succeeds.
//   - The answer comes once the broker is a member of __meta's Raft group
//     (AckWhenCommitted is treated as true).
//   - ClusterID, when set, must be this cluster's (INCONSISTENT_CLUSTER_ID).
//     VoterDirectoryID is ignored. INVALID_REQUEST for a removed id (ids
//     are never taken back), a bad or taken address, no listener, or when
//     the reachable __meta voters (with the new broker, if its Raft port
//     answers) would not form a quorum of the bigger group.
//   - Any broker answers: the request goes to __meta from there.
//   - Authorization: Alter on the cluster, else CLUSTER_AUTHORIZATION_FAILED.
//
// Version notes:
//   - v1: AckWhenCommitted (KIP-853).

import (
	"context"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(80, 0, 1, handleAddRaftVoter) }

func handleAddRaftVoter(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.AddRaftVoterRequest)
	resp := req.ResponseKind().(*kmsg.AddRaftVoterResponse)
	resp.Version = r.version
	if !s.authorizeCluster(r, acl.Alter) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp, nil
	}
	fail := func(e *kerr.Error, msg string) (kmsg.Response, error) {
		resp.ErrorCode = e.Code
		resp.ErrorMessage = &msg
		return resp, nil
	}
	if req.ClusterID != nil && *req.ClusterID != "" && *req.ClusterID != s.be.Metadata().ClusterID {
		return fail(kerr.InconsistentClusterID, "cluster id "+*req.ClusterID+" is not this cluster's")
	}
	if req.VoterID <= 0 {
		return fail(kerr.InvalidRequest, "voter id must be a positive broker id")
	}
	addr := raftListener(req.Listeners)
	if addr == "" {
		return fail(kerr.InvalidRequest, "no listener: name the broker's Raft address (listener RAFT)")
	}
	ctx, cancel := adminContext(ctx, req.TimeoutMillis)
	defer cancel()
	if err := s.be.AddBroker(ctx, uint64(req.VoterID), addr); err != nil {
		resp.ErrorCode = errorCode(err)
		resp.ErrorMessage = errorMessage(err)
		return resp, nil
	}
	s.log.Info("broker added", "broker", req.VoterID, "raft_addr", addr)
	return resp, nil
}

// raftListener returns host:port of the listener named RAFT, else
// CONTROLLER, else the first one; "" if there is none.
func raftListener(ls []kmsg.AddRaftVoterRequestListener) string {
	for _, name := range []string{"RAFT", "CONTROLLER", ""} {
		for _, l := range ls {
			if name == "" || l.Name == name {
				return net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port)))
			}
		}
	}
	return ""
}
