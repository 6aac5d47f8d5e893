package kafka

// The group coordinator lives in package coordinator; the handlers of the
// group APIs (08-16, 42, 47, 68, 69) decode requests, call it and encode
// its answers.

import (
	"log/slog"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik-io/chronik/coordinator"
)

// OffsetsTopic is the internal topic holding committed offsets and group
// metadata (coordinator.OffsetsTopic).
const OffsetsTopic = coordinator.OffsetsTopic

// GroupConfig configures the group coordinator (coordinator.Config).
type GroupConfig = coordinator.Config

// newGroupCoordinator starts the group coordinator over be. A backend that
// is not a coordinator.Backend (test stubs) serves no groups:
// COORDINATOR_NOT_AVAILABLE.
func newGroupCoordinator(be backend, cfg GroupConfig, log *slog.Logger) *coordinator.Coordinator {
	if cb, ok := be.(coordinator.Backend); ok {
		return coordinator.New(cb, cfg, log)
	}
	return coordinator.New(nil, cfg, log)
}

// errCode is the error code of a coordinator answer (nil: 0).
func errCode(e *kerr.Error) int16 {
	if e == nil {
		return 0
	}
	return e.Code
}

// GroupRecordsSkipped is how many records of __consumer_offsets the loads of
// this broker's coordinator partitions could not decode and skipped (each
// load of a partition counts its bad records again).
func (s *Server) GroupRecordsSkipped() int64 { return s.groups.RecordsSkipped() }

// GroupSnapshot is the state of the groups this broker coordinates, read
// from the coordinator's memory (coordinator.Coordinator.Snapshot), for
// metrics.
func (s *Server) GroupSnapshot() []coordinator.GroupSnapshot { return s.groups.Snapshot() }

// partitionKnown returns a check of whether a topic partition exists, for
// the offset commit APIs; it reads each topic's metadata once.
func (s *Server) partitionKnown() func(topic string, partition int32) bool {
	views := map[string]*metaView{}
	return func(topic string, partition int32) bool {
		v, ok := views[topic]
		if !ok {
			v = s.view(topic)
			views[topic] = v
		}
		return v.partition(topic, partition) != nil
	}
}
