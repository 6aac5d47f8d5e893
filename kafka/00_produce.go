package kafka

// Produce: v3-11
//
// Behaviour:
//   - Each partition's record batches are handed to the engine as the
//     client sent them (engine.ProduceBatch validates magic, CRC, sizes and
//     proposes the bytes); partitions of one request are written
//     concurrently, and each gets its own error code.
//   - acks=1 and acks=-1 are answered once the batch is committed on a Raft
//     quorum and applied: acks=1 is as strong as acks=all (stronger than
//     Kafka). acks=0 writes no response; if any partition fails the
//     connection is closed, as Kafka does, so the client refreshes metadata.
//   - Any other acks value: INVALID_REQUIRED_ACKS.
//   - TimeoutMillis bounds the wait; past it the partition answers
//     REQUEST_TIMED_OUT (the batch may still commit).
//   - Unknown topics are auto-created when Config.AutoCreateTopics is on,
//     else UNKNOWN_TOPIC_OR_PARTITION.
//   - NOT_LEADER_OR_FOLLOWER carries the CurrentLeader hint and the
//     leader's endpoint (v10+).
//   - Transactional produce is refused (TRANSACTIONAL_ID_AUTHORIZATION_FAILED):
//     chronik has no transactions.
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
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

func init() { regKey(0, 3, 11, handleProduce) }

func handleProduce(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	resp.Version = r.version

	// Fill the response skeleton in request order.
	fail := int16(0)
	switch {
	case req.TransactionID != nil:
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
		if req.Acks == 0 {
			return nil, errCloseConn
		}
		return resp, nil
	}

	if req.TimeoutMillis > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.TimeoutMillis)*time.Millisecond)
		defer cancel()
	}

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		leaders = map[int32]bool{}
		failed  bool
		created = map[string]*createOnce{}
	)
	for ti, rt := range req.Topics {
		if s.cfg.AutoCreateTopics {
			created[rt.Topic] = &createOnce{}
		}
		for pi, rp := range rt.Partitions {
			slot := &resp.Topics[ti].Partitions[pi]
			wg.Add(1)
			go func(topic string, partition int32, records []byte, co *createOnce) {
				defer wg.Done()
				res, err := s.be.ProduceBatch(ctx, topic, partition, records)
				if errors.Is(err, engine.ErrUnknownTopic) && co != nil {
					// Auto-create on first use, once per topic per request,
					// then write.
					if err = co.do(func() error { return s.autoCreate(ctx, topic) }); err == nil {
						res, err = s.be.ProduceBatch(ctx, topic, partition, records)
					}
				}
				if err != nil {
					slot.ErrorCode = errorCode(err)
					slot.ErrorMessage = errorMessage(err)
					slot.BaseOffset = -1
					id, epoch := leaderHint(err)
					slot.CurrentLeader.LeaderID, slot.CurrentLeader.LeaderEpoch = id, epoch
					mu.Lock()
					failed = true
					if id >= 0 {
						leaders[id] = true
					}
					mu.Unlock()
					s.log.Debug("produce failed", "topic", topic, "partition", partition, "err", err)
					return
				}
				slot.BaseOffset = res.BaseOffset
				slot.LogAppendTime = res.LogAppendTime
				slot.LogStartOffset = res.LogStartOffset
			}(rt.Topic, rp.Partition, rp.Records, created[rt.Topic])
		}
	}
	wg.Wait()

	if req.Acks == 0 {
		if failed {
			return nil, errCloseConn
		}
		return nil, nil
	}
	if len(leaders) > 0 && r.version >= 10 {
		for _, ep := range s.view().endpoints() {
			if leaders[ep.id] {
				b := kmsg.NewProduceResponseBroker()
				b.NodeID, b.Host, b.Port, b.Rack = ep.id, ep.host, ep.port, ep.rack
				resp.Brokers = append(resp.Brokers, b)
			}
		}
	}
	return resp, nil
}

// createOnce runs one auto-creation for all partitions of a topic in a
// request and hands every caller its result.
type createOnce struct {
	once sync.Once
	err  error
}

func (c *createOnce) do(f func() error) error {
	c.once.Do(func() { c.err = f() })
	return c.err
}
