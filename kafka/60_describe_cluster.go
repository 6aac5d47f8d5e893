package kafka

// DescribeCluster: v0-1
//
// Behaviour:
//   - Brokers are the members with a registered Kafka address; ControllerID
//     is the broker leading __meta (-1 if none).
//   - EndpointType 2 (controllers, v1) is answered with the same brokers:
//     every chronik broker can serve as controller through __meta.
//   - Authorization: none, as in Kafka: the brokers are public (Metadata lists
//     them too).
//
// Version notes:
//   - v1: EndpointType (KIP-919)

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(60, 0, 1, handleDescribeCluster) }

func handleDescribeCluster(s *Server, _ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.Version = r.version
	if r.version >= 1 {
		if req.EndpointType != 1 && req.EndpointType != 2 {
			resp.ErrorCode = kerr.UnsupportedEndpointType.Code
			return resp, nil
		}
		resp.EndpointType = req.EndpointType
	}
	v := s.view()
	resp.ClusterID = v.md.ClusterID
	resp.ControllerID = -1
	if v.md.ControllerID != 0 {
		resp.ControllerID = int32(v.md.ControllerID)
	}
	for _, ep := range v.endpoints(r.listener) {
		b := kmsg.NewDescribeClusterResponseBroker()
		b.NodeID, b.Host, b.Port, b.Rack = ep.id, ep.host, ep.port, ep.rack
		resp.Brokers = append(resp.Brokers, b)
	}
	return resp, nil
}
