package kafka

// Fetch: v4-16
//
// Behaviour:
//   - Each partition is read once from the local leader, or from v11 on
//     (consumers sending RackID, KIP-392) from a local follower in sync
//     (its leader known and reachable), up to the follower's applied end;
//     without waiting,
//     in request order, within PartitionMaxBytes and what is left of
//     MaxBytes; the first non-empty partition always gets at least one
//     whole batch (engine.Fetch returns at least one batch). Partitions
//     past the response budget answer with no records and their high
//     watermark.
//   - If the total is below MinBytes, the handler waits on engine.Watch of
//     every partition read without error until one moves, MaxWaitMillis
//     passes (capped by Config.MaxFetchWait), or the server closes; then it
//     reads again. A partition error answers at once, as in Kafka, so a
//     client learns of a moved leader without waiting MaxWait.
//   - Fetch sessions (KIP-227) are declined: every response has SessionID 0
//     and is a full response. A request naming a session ID answers
//     FETCH_SESSION_ID_NOT_FOUND; session ID 0 with an epoch above 0 answers
//     INVALID_FETCH_SESSION_EPOCH. Clients then fetch without sessions.
//   - IsolationLevel 1 (read_committed) returns batches only below the last
//     stable offset (the first offset of the oldest ongoing transaction on
//     the partition, else the high watermark) and, in AbortedTransactions,
//     the aborted transactions overlapping the returned batches (producer
//     id, first offset), as Kafka does; read_uncommitted answers a null
//     AbortedTransactions. LastStableOffset is the LSO for both levels.
//     Transactions are ended by markers the transaction coordinator writes
//     (engine.WriteTxnMarker, or WriteTxnMarkers from another broker).
//   - Rack-aware reads (v11+): the leader answers a consumer whose RackID
//     differs from its own rack with PreferredReadReplica, an in-sync
//     follower in that rack (engine.SelectReadReplica), and no records; the
//     response then goes out at once. A follower asked for an offset past
//     its applied end first applies what the leader has committed; an
//     offset still past it is OFFSET_OUT_OF_RANGE, and a follower that
//     cannot reach its leader answers NOT_LEADER_OR_FOLLOWER, sending the
//     consumer back to the leader.
//   - NOT_LEADER_OR_FOLLOWER carries the CurrentLeader hint (v12+) and the
//     leader's endpoint (v16).
//   - Authorization: Read on each topic, else TOPIC_AUTHORIZATION_FAILED
//     for its partitions (answered at once, like any partition error).
//
// Version notes:
//   - v4: IsolationLevel, LastStableOffset, AbortedTransactions
//   - v5: LogStartOffset
//   - v7: fetch sessions
//   - v9: CurrentLeaderEpoch (not checked; Metadata answers the current
//     epoch)
//   - v11: Rack, PreferredReadReplica; followers serve consumers
//   - v12: flexible versions, tagged CurrentLeader, DivergingEpoch
//   - v13: topic IDs instead of names
//   - v15: ReplicaState replaces ReplicaID
//   - v16: NodeEndpoints (KIP-951)

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
	"github.com/chronik-io/chronik/engine"
)

func init() { regKey(1, 4, 16, handleFetch) }

// noRecords is an empty, non-null record set: librdkafka rejects a null one.
var noRecords = []byte{}

// fetchSlot is one requested partition and its place in the response.
type fetchSlot struct {
	topic     string
	partition int32
	offset    int64
	maxBytes  int
	committed bool // read_committed
	follower  bool // a consumer's fetch a follower may serve (v11+)
	rack      string
	resp      *kmsg.FetchResponseTopicPartition
	skip      bool // resolved with an error before reading (unknown topic ID)
}

func handleFetch(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.FetchRequest)
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	resp.Version = r.version

	if r.version >= 7 {
		switch {
		case req.SessionID != 0:
			resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
			return resp, nil
		case req.SessionEpoch > 0:
			resp.ErrorCode = kerr.InvalidFetchSessionEpoch.Code
			return resp, nil
		}
		resp.SessionID = 0
	}

	// As in Kafka, a consumer fetch with client metadata (v11+) may be
	// served by a follower; older versions read from the leader only.
	consumer := r.version >= 11 && replicaID(req) < 0
	var rack string
	if consumer {
		rack = req.Rack
	}
	var slots []*fetchSlot
	readable := s.topicAuthorizer(r, acl.Read)
	for _, rt := range req.Topics {
		t := kmsg.NewFetchResponseTopic()
		t.Topic, t.TopicID = rt.Topic, rt.TopicID
		name, unknownID := rt.Topic, false
		if r.version >= 13 {
			if n, ok := s.be.TopicName(rt.TopicID); ok {
				name = n
			} else {
				unknownID = true
			}
		}
		denied := !unknownID && !readable.ok(name)
		t.Partitions = make([]kmsg.FetchResponseTopicPartition, len(rt.Partitions))
		resp.Topics = append(resp.Topics, t)
		rtp := resp.Topics[len(resp.Topics)-1].Partitions
		for i, rp := range rt.Partitions {
			p := &rtp[i]
			*p = kmsg.NewFetchResponseTopicPartition()
			p.Partition = rp.Partition
			p.HighWatermark = -1
			p.RecordBatches = noRecords
			slot := &fetchSlot{topic: name, partition: rp.Partition, offset: rp.FetchOffset, maxBytes: int(rp.PartitionMaxBytes),
				committed: req.IsolationLevel == 1, follower: consumer, rack: rack, resp: p}
			switch {
			case unknownID:
				p.ErrorCode = kerr.UnknownTopicID.Code
				slot.skip = true
			case denied:
				p.ErrorCode = kerr.TopicAuthorizationFailed.Code
				slot.skip = true
			}
			slots = append(slots, slot)
		}
	}

	maxWait := time.Duration(req.MaxWaitMillis) * time.Millisecond
	maxWait = min(max(maxWait, 0), s.cfg.MaxFetchWait)
	deadline := time.Now().Add(maxWait)
	minBytes := int(req.MinBytes)
	maxBytes := int(req.MaxBytes)
	if maxBytes <= 0 {
		maxBytes = 1<<31 - 1
	}

	leaders := map[int32]bool{}
	for {
		total, failed := readFetchSlots(s, ctx, slots, maxBytes, leaders)
		// As in Kafka, a partition error (a moved leader, say) answers at
		// once rather than after MaxWait.
		if total >= minBytes || minBytes <= 0 || failed || !time.Now().Before(deadline) {
			break
		}
		if !waitFetch(s, ctx, slots, deadline) {
			readFetchSlots(s, ctx, slots, maxBytes, leaders)
			break
		}
	}

	if len(leaders) > 0 && r.version >= 16 {
		for _, ep := range s.view().endpoints(r.listener) {
			if leaders[ep.id] {
				b := kmsg.NewFetchResponseBroker()
				b.NodeID, b.Host, b.Port, b.Rack = ep.id, ep.host, ep.port, ep.rack
				resp.Brokers = append(resp.Brokers, b)
			}
		}
	}
	return resp, nil
}

// readFetchSlots reads every slot once without waiting and returns the bytes
// gathered and whether any partition failed or named a preferred read
// replica (either answers at once). Each slot's response is overwritten.
func readFetchSlots(s *Server, ctx context.Context, slots []*fetchSlot, maxBytes int, leaders map[int32]bool) (total int, failed bool) {
	for _, sl := range slots {
		if sl.skip {
			failed = true
			continue
		}
		p := sl.resp
		p.RecordBatches = noRecords
		budget := min(sl.maxBytes, maxBytes-total)
		exhausted := budget <= 0
		if exhausted {
			budget = 1 // still read, for the high watermark; records are dropped
		}
		res, err := s.be.Fetch(ctx, sl.topic, sl.partition, sl.offset, engine.FetchOptions{MaxBytes: budget,
			ReadCommitted: sl.committed, AllowFollower: sl.follower, ClientRack: sl.rack})
		if err != nil {
			failed = true
			p.ErrorCode = errorCode(err)
			id, epoch := leaderHint(err)
			p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch = id, epoch
			if id >= 0 {
				leaders[id] = true
			}
			continue
		}
		p.ErrorCode = 0
		p.CurrentLeader = kmsg.NewFetchResponseTopicPartitionCurrentLeader()
		p.HighWatermark = res.HighWatermark
		p.LastStableOffset = res.LastStableOffset
		p.LogStartOffset = res.LogStartOffset
		p.PreferredReadReplica = -1
		if res.PreferredReadReplica != 0 {
			// The consumer moves to that replica: answer now, as Kafka does.
			p.PreferredReadReplica = int32(res.PreferredReadReplica)
			failed = true
		}
		p.AbortedTransactions = nil
		if sl.committed {
			p.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
		}
		if !exhausted && len(res.Batches) > 0 {
			p.RecordBatches = res.Batches
			total += len(res.Batches)
			for _, a := range res.AbortedTxns {
				at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
				at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
				p.AbortedTransactions = append(p.AbortedTransactions, at)
			}
		}
	}
	return total, failed
}

// replicaID is the fetching replica's broker id, -1 for a consumer (v15+
// carries it in ReplicaState).
func replicaID(req *kmsg.FetchRequest) int32 {
	if req.Version >= 15 {
		return int32(req.ReplicaState.ID)
	}
	return req.ReplicaID
}

// waitFetch waits until the high watermark of any readable slot moves, the
// deadline passes, ctx ends or the server closes. It reports whether new data
// may be available.
func waitFetch(s *Server, ctx context.Context, slots []*fetchSlot, deadline time.Time) bool {
	var chans []<-chan struct{}
	for _, sl := range slots {
		if sl.skip || sl.resp.ErrorCode != 0 {
			continue
		}
		ch, err := s.be.Watch(sl.topic, sl.partition, sl.resp.HighWatermark)
		if err != nil {
			return true // leadership or topic changed: read again to report it
		}
		chans = append(chans, ch)
	}
	if len(chans) == 0 {
		return false
	}
	wake := make(chan struct{})
	stop := make(chan struct{})
	defer close(stop)
	for _, ch := range chans {
		go func(ch <-chan struct{}) {
			select {
			case <-ch:
				select {
				case wake <- struct{}{}:
				case <-stop:
				}
			case <-stop:
			}
		}(ch)
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-wake:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	case <-s.closing:
		return false
	}
}
