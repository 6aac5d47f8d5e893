package kafka

// Produce: v3-11
//
// Behaviour:
//   - Each partition's record batches are handed to the engine as the
//     client sent them (engine.ProduceBatchAsync validates magic, CRC, sizes
//     and proposes the bytes), in request order; each partition gets its own
//     error code.
//   - Pipelined: the batches are proposed before the connection reads its
//     next request, and the answer is built once they commit, so several
//     Produce requests of one connection are in flight in Raft at once while
//     their batches still commit in the order sent (what idempotent
//     producers with several requests in flight rely on). Any other request
//     waits until the connection's produces have been answered.
//   - acks=1 and acks=-1 are answered once the batch is committed on a Raft
//     quorum and applied: acks=1 is as strong as acks=all (stronger than
//     Kafka). acks=0 writes no response; if any partition fails the
//     connection is closed, as Kafka does, so the client refreshes metadata.
//   - Any other acks value: INVALID_REQUIRED_ACKS.
//   - TimeoutMillis bounds the wait; past it the partition answers
//     REQUEST_TIMED_OUT (the batch may still commit).
//   - Unknown topics are auto-created when Config.AutoCreateTopics is on
//     and the principal may Create the topic (or the cluster), else
//     UNKNOWN_TOPIC_OR_PARTITION.
//   - Authorization: Write on each topic, else TOPIC_AUTHORIZATION_FAILED
//     for its partitions; with a transactional id, Write on it, else
//     TRANSACTIONAL_ID_AUTHORIZATION_FAILED for every partition.
//   - NOT_LEADER_OR_FOLLOWER carries the CurrentLeader hint and the
//     leader's endpoint (v10+).
//   - Transactional produce (a transactional id, batches with the
//     transactional bit) is appended like any other; the partition tracks
//     the open transaction until the coordinator's marker ends it. A server
//     whose backend cannot write markers serves no transactions and refuses
//     it (TRANSACTIONAL_ID_AUTHORIZATION_FAILED).
//   - Internal topics (__consumer_offsets, __transaction_state, and any topic
//     the engine marks internal) refuse client writes: their partitions
//     answer INVALID_TOPIC_EXCEPTION and nothing is proposed, as Kafka
//     does. The group coordinator writes __consumer_offsets through the
//     engine, not through Produce.
//
// Version notes:
//   - v3: TransactionID, record batch v2 only
//   - v5: LogStartOffset
//   - v8: ErrorRecords, ErrorMessage (KIP-467)
//   - v9: flexible versions
//   - v10: CurrentLeader, NodeEndpoints tagged fields (KIP-951)
//   - v11: no change (KIP-890 signals)

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
	"github.com/chronik-io/chronik/engine"
)

func init() { regKeyPipelined(0, 3, 11, startProduce) }

func startProduce(s *Server, ctx context.Context, r *request) func() (kmsg.Response, error) {
	req := r.kreq.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	resp.Version = r.version

	// Fill the response skeleton in request order.
	fail := int16(0)
	switch {
	case req.TransactionID != nil && !s.txns.Enabled():
		fail = kerr.TransactionalIDAuthorizationFailed.Code
	case req.TransactionID != nil && !s.authorize(r, acl.Write, acl.TransactionalID, *req.TransactionID):
		fail = kerr.TransactionalIDAuthorizationFailed.Code
	case req.Acks != 0 && req.Acks != 1 && req.Acks != -1:
		fail = kerr.InvalidRequiredAcks.Code
	}
	for _, rt := range req.Topics {
		t := kmsg.NewProduceResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewProduceResponseTopicPartition()
			p.Partition = rp.Partition
			p.ErrorCode = fail
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	if fail != 0 {
		return func() (kmsg.Response, error) {
			if req.Acks == 0 {
				return nil, errCloseConn
			}
			return resp, nil
		}
	}

	// ctx bounds proposing and waiting; it ends when the answer is built.
	var cancel context.CancelFunc
	if req.TimeoutMillis > 0 {
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.TimeoutMillis)*time.Millisecond)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}

	// Phase one, in request order: propose every partition's batches.
	type slot struct {
		topic string
		resp  *kmsg.ProduceResponseTopicPartition
		w     produceWaiter
		err   error
	}
	var slots []slot
	createErr := map[string]error{}
	writable := s.topicAuthorizer(r, acl.Write)
	for ti, rt := range req.Topics {
		internal := s.isInternalTopic(rt.Topic)
		allowed := writable.ok(rt.Topic)
		for pi, rp := range rt.Partitions {
			if !allowed {
				slots = append(slots, slot{topic: rt.Topic, resp: &resp.Topics[ti].Partitions[pi], err: errTopicAuthz})
				continue
			}
			if internal {
				slots = append(slots, slot{topic: rt.Topic, resp: &resp.Topics[ti].Partitions[pi], err: errInternalTopic(rt.Topic)})
				continue
			}
			w, err := s.be.ProduceAsync(ctx, rt.Topic, rp.Partition, rp.Records)
			if errors.Is(err, engine.ErrUnknownTopic) && s.cfg.AutoCreateTopics && s.mayCreateTopic(r, rt.Topic) {
				cerr, tried := createErr[rt.Topic]
				if !tried {
					cerr = s.autoCreate(ctx, rt.Topic)
					createErr[rt.Topic] = cerr
				}
				if cerr != nil {
					err = cerr
				} else {
					w, err = s.be.ProduceAsync(ctx, rt.Topic, rp.Partition, rp.Records)
				}
			}
			slots = append(slots, slot{topic: rt.Topic, resp: &resp.Topics[ti].Partitions[pi], w: w, err: err})
		}
	}

	// Phase two: wait for the outcomes and answer.
	return func() (kmsg.Response, error) {
		defer cancel()
		leaders := map[int32]bool{}
		failed := false
		for _, sl := range slots {
			res, err := engine.ProduceResult{}, sl.err
			if err == nil {
				res, err = sl.w.Wait(ctx)
			}
			p := sl.resp
			if err != nil {
				failed = true
				p.ErrorCode = errorCode(err)
				p.ErrorMessage = errorMessage(err)
				p.BaseOffset = -1
				id, epoch := leaderHint(err)
				p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch = id, epoch
				if id >= 0 {
					leaders[id] = true
				}
				s.log.Debug("produce failed", "topic", sl.topic, "partition", p.Partition, "err", err)
				continue
			}
			p.BaseOffset = res.BaseOffset
			p.LogAppendTime = res.LogAppendTime
			p.LogStartOffset = res.LogStartOffset
		}
		if req.Acks == 0 {
			if failed {
				return nil, errCloseConn
			}
			return nil, nil
		}
		if len(leaders) > 0 && r.version >= 10 {
			for _, ep := range s.view().endpoints(r.listener) {
				if leaders[ep.id] {
					b := kmsg.NewProduceResponseBroker()
					b.NodeID, b.Host, b.Port, b.Rack = ep.id, ep.host, ep.port, ep.rack
					resp.Brokers = append(resp.Brokers, b)
				}
			}
		}
		return resp, nil
	}
}

// reservedInternalTopics are the internal topic names of Kafka: chronik
// refuses client writes to them whether or not they exist, so a Produce
// cannot auto-create one either.
var reservedInternalTopics = map[string]bool{
	OffsetsTopic:          true,
	"__transaction_state": true,
}

// errInternalTopic is a client write to an internal topic; it matches
// engine.ErrInvalidTopic (INVALID_TOPIC_EXCEPTION) and reads as Kafka's
// message.
type errInternalTopic string

func (e errInternalTopic) Error() string        { return "Cannot append to internal topic " + string(e) }
func (e errInternalTopic) Is(target error) bool { return target == engine.ErrInvalidTopic }

// isInternalTopic reports whether topic is internal: a reserved name, or a
// topic the engine created internal. chronik creates internal topics only
// under names starting with "__", so other names skip the metadata lookup
// (Produce's hot path).
func (s *Server) isInternalTopic(topic string) bool {
	if reservedInternalTopics[topic] {
		return true
	}
	if !strings.HasPrefix(topic, "__") {
		return false
	}
	t := s.view(topic).byName[topic]
	return t != nil && t.Internal
}
