package kafka

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/coordinator"
	"github.com/chronik-io/chronik/engine"
)

// shareLedger counts, per record, the acknowledgements the broker
// confirmed, and remembers records whose acknowledgement failed (the
// broker may or may not have written it: a record is then either
// delivered again or settled without a confirmed ack).
type shareLedger struct {
	mu        sync.Mutex
	acked     map[[2]int64]int
	uncertain map[[2]int64]bool
	delivered int
	// history is every confirmed delivery of a record, for failures.
	history map[[2]int64][]string
	killed  time.Time
}

// shareMember consumes with a share consumer, accepts every record and
// flushes the acknowledgements after each poll, recording per record
// whether the broker confirmed its partition's acknowledgement.
func (l *shareLedger) member(ctx context.Context, t *testing.T, kc *kafkaCluster, id, group, topic string) func() {
	var rmu sync.Mutex
	results := map[int32][]error{}
	cl := kc.client(t, kgo.ShareGroup(group), kgo.ConsumeTopics(topic), kgo.ShareMaxRecords(50),
		kgo.ShareAckCallback(func(_ *kgo.Client, res kgo.ShareAckResults) {
			rmu.Lock()
			defer rmu.Unlock()
			for _, r := range res {
				results[r.Partition] = append(results[r.Partition], r.Err)
			}
		}))
	done := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			fs := cl.PollFetches(pctx)
			cancel()
			recs := fs.Records()
			if len(recs) == 0 {
				if ctx.Err() != nil {
					return
				}
				continue
			}
			for _, r := range recs {
				r.Ack(kgo.AckAccept)
			}
			fctx, fcancel := context.WithTimeout(ctx, 20*time.Second)
			err := cl.FlushAcks(fctx)
			fcancel()
			rmu.Lock()
			got := results
			results = map[int32][]error{}
			rmu.Unlock()
			l.mu.Lock()
			l.delivered += len(recs)
			for _, r := range recs {
				k := [2]int64{int64(r.Partition), r.Offset}
				errs := got[r.Partition]
				ok := err == nil && len(errs) > 0
				for _, e := range errs {
					ok = ok && e == nil
				}
				if ok {
					l.acked[k]++
					l.history[k] = append(l.history[k], fmt.Sprintf("%s dc=%d at %v after the kill", id, r.DeliveryCount(), time.Since(l.killed).Round(time.Millisecond)))
				} else {
					l.uncertain[k] = true
				}
			}
			l.mu.Unlock()
		}
	}()
	return func() {
		close(stop)
		<-done
		cl.Close()
	}
}

func (l *shareLedger) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// TestShareCoordinatorFailover kills the share coordinator of a group
// (abruptly: no leadership hand-over) while three share consumers accept
// records, produces more, and checks that every record ends up
// acknowledged exactly once: no record's acknowledgement is confirmed
// twice (an acknowledged record delivered again), and every record is
// settled, its acknowledgement confirmed or, when the kill cut the answer
// off, written before it. CHRONIK_TEST_ALL=1 (about 30 s).
func TestShareCoordinatorFailover(t *testing.T) {
	if os.Getenv("CHRONIK_TEST_ALL") == "" {
		t.Skip("CHRONIK_TEST_ALL=1 runs the share coordinator kill test (about 30 s)")
	}
	kc := newKafkaCluster(t, 3, groupTestConfig())
	const topic, parts, group = "share-failover", 3, "share-failover"
	kc.CreateTopic(t, topic, engine.TopicConfig{Partitions: parts, ReplicationFactor: 3})
	ctx := testCtx(t, 3*time.Minute)
	prod := kc.client(t, kgo.DefaultProduceTopic(topic))
	produceN(t, prod, topic, parts, 3000)

	setShareConfigs(t, ctx, kc, group, map[string]string{
		coordinator.ShareAutoOffsetReset:    "earliest",
		coordinator.ShareRecordLockDuration: "5000",
	})
	l := &shareLedger{acked: map[[2]int64]int{}, uncertain: map[[2]int64]bool{}, history: map[[2]int64][]string{}}
	var stops []func()
	l.killed = time.Now().Add(time.Hour)
	for i := range 3 {
		stops = append(stops, l.member(ctx, t, kc, fmt.Sprintf("m%d", i), group, topic))
	}
	defer func() {
		for _, s := range stops {
			s()
		}
	}()
	for l.ackedCount() < 300 {
		if ctx.Err() != nil {
			t.Fatalf("only %d records acknowledged before the kill", l.ackedCount())
		}
		time.Sleep(20 * time.Millisecond)
	}
	coord := kc.Leader(OffsetsTopic, coordinator.PartitionFor(group, 4))
	t.Logf("killing share coordinator node %d after %d acknowledgements", coord, l.ackedCount())
	for p := int32(0); p < parts; p++ {
		t.Logf("partition %d led by node %d", p, kc.Leader(topic, p))
	}
	l.mu.Lock()
	l.killed = time.Now()
	l.mu.Unlock()
	kc.Kill(coord)
	kc.servers[coord].Close()
	produceN(t, prod, topic, parts, 1000)

	// Wait until every partition's start offset reached its end: every
	// record settled.
	adm := kc.client(t)
	var left int64
	for {
		left = shareLeft(ctx, t, kc, adm, group, topic, parts)
		if left == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%d records not settled; %d acknowledged", left, l.ackedCount())
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, s := range stops {
		s()
	}
	stops = nil

	l.mu.Lock()
	defer l.mu.Unlock()
	unconfirmed, twice := 0, 0
	for p := int32(0); p < parts; p++ {
		leader := kc.Leader(topic, p)
		end, err := kc.Engine(leader).ListOffsets(ctx, topic, p, engine.Latest)
		if err != nil {
			t.Fatal(err)
		}
		for o := int64(0); o < end.Offset; o++ {
			k := [2]int64{int64(p), o}
			n, ok := l.acked[k]
			if !ok && !l.uncertain[k] {
				t.Errorf("partition %d offset %d: never delivered, yet settled", p, o)
			}
			if n > 1 {
				if twice++; twice <= 5 {
					t.Errorf("partition %d offset %d: acknowledged %d times: %v", p, o, n, l.history[k])
				}
			}
			if n == 0 {
				unconfirmed++
			}
		}
	}
	if twice > 0 {
		t.Errorf("%d records acknowledged more than once", twice)
	}
	t.Logf("4000 records: %d deliveries, %d acknowledgements confirmed, %d settled without a confirmed acknowledgement (cut off by the kill)",
		l.delivered, len(l.acked), unconfirmed)
}

// setShareConfigs sets share group configs, retrying while the group's
// coordinator is not ready.
func setShareConfigs(t *testing.T, ctx context.Context, kc *kafkaCluster, group string, cfg map[string]string) {
	t.Helper()
	cl := kc.client(t)
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
	for k, v := range cfg {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		res.Configs = append(res.Configs, c)
	}
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.Resources[0].ErrorCode)
	}
	if err != nil {
		t.Fatalf("set share group configs: %v", err)
	}
}

// shareLeft returns how many records of the topic lie at or past the
// group's share-partition start offsets (-1 when it cannot be told yet).
func shareLeft(ctx context.Context, t *testing.T, kc *kafkaCluster, cl *kgo.Client, group, topic string, parts int32) int64 {
	req := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
	rg := kmsg.NewDescribeShareGroupOffsetsRequestGroup()
	rg.GroupID = group
	rt := kmsg.NewDescribeShareGroupOffsetsRequestGroupTopic()
	rt.Topic = topic
	for p := int32(0); p < parts; p++ {
		rt.Partitions = append(rt.Partitions, p)
	}
	rg.Topics = append(rg.Topics, rt)
	req.Groups = append(req.Groups, rg)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != 0 || len(resp.Groups[0].Topics) != 1 {
		if err == nil && len(resp.Groups) == 1 {
			err = kerr.ErrorForCode(resp.Groups[0].ErrorCode)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Logf("describe share group offsets: %v", err)
		}
		return -1
	}
	var left int64
	for _, p := range resp.Groups[0].Topics[0].Partitions {
		leader := kc.Leader(topic, p.Partition)
		if leader == 0 || p.StartOffset < 0 {
			return -1
		}
		hw, err := kc.Engine(leader).ListOffsets(ctx, topic, p.Partition, engine.Latest)
		if err != nil {
			return -1
		}
		left += hw.Offset - p.StartOffset
	}
	return left
}
