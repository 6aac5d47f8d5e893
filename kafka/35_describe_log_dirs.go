package kafka

// DescribeLogDirs: v1-4
//
// Behaviour:
//   - Each broker has one log directory: its data directory (Config.LogDir,
//     "data" when unset), holding every partition replica it hosts, led or
//     followed.
//   - Topics nil lists every local replica; otherwise only the named topics'
//     named partitions that this broker hosts (others are left out, as in
//     Kafka).
//   - Size is the replica's segment bytes on disk. OffsetLag is 0: a broker
//     knows only its own replica's high watermark, and a leader's lag is 0 by
//     definition. IsFuture is always false (no AlterReplicaLogDirs).
//   - v4: UsableBytes is the free space on the data directory's file system
//     (-1 until first measured); TotalBytes is -1 (not reported).
//   - A replica the engine quarantined (damaged segment files, see
//     engine.QuarantinedReplica) is not listed in the data directory: Kafka
//     reports a failed log directory with KAFKA_STORAGE_ERROR, so each such
//     replica gets a directory entry of its own, named after its partition
//     directory, with that error and the partition in it.
//   - Authorization: Describe on the cluster, else
//     CLUSTER_AUTHORIZATION_FAILED (v3+; no directories before).
//
// Version notes:
//   - v1: ThrottleMillis semantics
//   - v2: flexible versions
//   - v3: top-level ErrorCode
//   - v4: TotalBytes, UsableBytes

import (
	"context"
	"fmt"
	"path"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(35, 1, 4, handleDescribeLogDirs) }

func handleDescribeLogDirs(s *Server, _ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeLogDirsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	resp.Version = r.version
	if !s.authorizeCluster(r, acl.Describe) {
		// v3+ carry the code; older versions answer no directories, as
		// Kafka does.
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp, nil
	}

	var want map[string][]int32 // nil: every local replica
	if req.Topics != nil {
		want = make(map[string][]int32, len(req.Topics))
		for _, rt := range req.Topics {
			want[rt.Topic] = append(want[rt.Topic], rt.Partitions...)
		}
	}

	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir = s.cfg.LogDir
	dir.TotalBytes = -1
	dir.UsableBytes = s.be.DiskFreeBytes()
	// LocalReplicas is sorted by topic and partition, so each topic's
	// replicas are adjacent.
	var failed []kmsg.DescribeLogDirsResponseDir
	for _, rs := range s.be.LocalReplicas(false) {
		if want != nil && !slices.Contains(want[rs.Topic], rs.Partition) {
			continue
		}
		if rs.Quarantine != nil {
			fd := kmsg.NewDescribeLogDirsResponseDir()
			fd.Dir = path.Join(s.cfg.LogDir, "partitions", fmt.Sprintf("%s-%d", rs.Topic, rs.Partition))
			fd.ErrorCode = kerr.KafkaStorageError.Code
			fd.TotalBytes, fd.UsableBytes = -1, -1
			t := kmsg.NewDescribeLogDirsResponseDirTopic()
			t.Topic = rs.Topic
			p := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			p.Partition, p.Size = rs.Partition, rs.SizeBytes
			t.Partitions = append(t.Partitions, p)
			fd.Topics = append(fd.Topics, t)
			failed = append(failed, fd)
			continue
		}
		if n := len(dir.Topics); n == 0 || dir.Topics[n-1].Topic != rs.Topic {
			t := kmsg.NewDescribeLogDirsResponseDirTopic()
			t.Topic = rs.Topic
			dir.Topics = append(dir.Topics, t)
		}
		t := &dir.Topics[len(dir.Topics)-1]
		p := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
		p.Partition = rs.Partition
		p.Size = rs.SizeBytes
		t.Partitions = append(t.Partitions, p)
	}
	resp.Dirs = append(resp.Dirs, dir)
	resp.Dirs = append(resp.Dirs, failed...)
	return resp, nil
}
