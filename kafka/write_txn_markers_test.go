package kafka

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// markerReq builds a WriteTxnMarkers request of one marker.
func markerReq(version int16, pid int64, epoch int16, commit bool, coordEpoch int32, parts map[string][]int32) *kmsg.WriteTxnMarkersRequest {
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	req.Version = version
	req.Markers = append(req.Markers, marker(pid, epoch, commit, coordEpoch, parts))
	return req
}

func marker(pid int64, epoch int16, commit bool, coordEpoch int32, parts map[string][]int32) kmsg.WriteTxnMarkersRequestMarker {
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch = pid, epoch, commit, coordEpoch
	names := make([]string, 0, len(parts))
	for n := range parts {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
		mt.Topic, mt.Partitions = n, parts[n]
		m.Topics = append(m.Topics, mt)
	}
	return m
}

// markerCodes returns a response's error codes, one list per marker in
// request order, checking that the response mirrors the request.
func markerCodes(t *testing.T, req *kmsg.WriteTxnMarkersRequest, resp *kmsg.WriteTxnMarkersResponse) [][]int16 {
	t.Helper()
	if len(resp.Markers) != len(req.Markers) {
		t.Fatalf("%d markers answered, want %d", len(resp.Markers), len(req.Markers))
	}
	var out [][]int16
	for i, m := range req.Markers {
		rm := resp.Markers[i]
		if rm.ProducerID != m.ProducerID || len(rm.Topics) != len(m.Topics) {
			t.Fatalf("marker %d answered as %+v", i, rm)
		}
		var codes []int16
		for j, mt := range m.Topics {
			rt := rm.Topics[j]
			if rt.Topic != mt.Topic || len(rt.Partitions) != len(mt.Partitions) {
				t.Fatalf("marker %d topic %s answered as %+v", i, mt.Topic, rt)
			}
			for k, p := range mt.Partitions {
				if rt.Partitions[k].Partition != p {
					t.Fatalf("marker %d topic %s: partition %d answered as %d", i, mt.Topic, p, rt.Partitions[k].Partition)
				}
				codes = append(codes, rt.Partitions[k].ErrorCode)
			}
		}
		out = append(out, codes)
	}
	return out
}

// TestWriteTxnMarkersErrors sends raw WriteTxnMarkers requests to a
// one-node server: the per-partition answers mirror the request and carry
// the engine's refusals.
func TestWriteTxnMarkersErrors(t *testing.T) {
	kc := newKafkaCluster(t, 1, Config{})
	kc.CreateTopic(t, "wtm", engine.TopicConfig{Partitions: 2})
	rc := dialRaw(t, kc.addrs[1])
	var (
		ok      int16
		unknown = kerr.UnknownTopicOrPartition.Code
		epoch   = kerr.InvalidProducerEpoch.Code
		fenced  = kerr.TransactionCoordinatorFenced.Code
		invalid = kerr.InvalidRecord.Code
	)
	check := func(req *kmsg.WriteTxnMarkersRequest, want [][]int16) {
		t.Helper()
		got := markerCodes(t, req, roundTrip[*kmsg.WriteTxnMarkersResponse](rc, req))
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("v%d: codes %v, want %v", req.Version, got, want)
		}
	}
	// Producer 7 at epoch 3, from coordinator epoch 5 (no transaction on the
	// partition: written all the same, as in Kafka).
	check(markerReq(0, 7, 3, true, 5, map[string][]int32{"wtm": {0, 1}}), [][]int16{{ok, ok}})
	// One request, two markers: an older producer epoch, and a marker
	// naming an unknown topic and partition beside a good one.
	req := markerReq(1, 7, 2, false, 5, map[string][]int32{"wtm": {0}})
	req.Markers = append(req.Markers, marker(9, 0, true, 5, map[string][]int32{"nope": {0}, "wtm": {0, 9, 1}}))
	check(req, [][]int16{{epoch}, {unknown, ok, unknown, ok}})
	// An older coordinator epoch is fenced; a negative producer id refused.
	check(markerReq(1, 7, 3, false, 4, map[string][]int32{"wtm": {1}}), [][]int16{{fenced}})
	check(markerReq(1, -1, 0, true, 5, map[string][]int32{"wtm": {1}}), [][]int16{{invalid}})
	// No markers: an empty answer.
	check(kmsg.NewPtrWriteTxnMarkersRequest(), nil)
}

// TestTransactionsRemotePartitions: the transaction coordinator's broker
// holds no replica of the partitions of the transactions (RF=1 on the two
// other brokers of three), so their markers go to the partition leaders as
// WriteTxnMarkers. A committed and an aborted transaction both complete: a
// read_committed consumer sees exactly the committed records, and the last
// stable offset reaches the high watermark.
func TestTransactionsRemotePartitions(t *testing.T) {
	t.Parallel() // mostly waiting on its own cluster
	cfg := Config{Txns: TxnConfig{TopicPartitions: 1, TopicReplicationFactor: 1, MarkerRetryBackoff: 20 * time.Millisecond}}
	kc := newKafkaCluster(t, 3, cfg)
	ctx := testCtx(t, 90*time.Second)
	const topic, id = "remote-txn", "remote-tx"
	kc.CreateTopic(t, topic, engine.TopicConfig{Partitions: 3, ReplicationFactor: 1})

	adm := kc.admin(t)
	var coord int32 = -1
	for coord < 0 {
		r, found := adm.FindTxnCoordinators(ctx, id)[id]
		err := r.Err
		if !found {
			err = errors.New("no answer")
		}
		switch {
		case err == nil:
			coord = r.NodeID
		case ctx.Err() != nil:
			t.Fatalf("FindCoordinator(txn): %v", err)
		default:
			time.Sleep(50 * time.Millisecond)
		}
	}
	var parts []int32 // the partitions on other brokers
	for _, ti := range kc.Engine(1).Metadata(topic).Topics {
		for _, p := range ti.Partitions {
			if len(p.Replicas) != 1 {
				t.Fatalf("partition %d has replicas %v, want one", p.Partition, p.Replicas)
			}
			if p.Replicas[0] != uint64(coord) {
				parts = append(parts, p.Partition)
			}
		}
	}
	if len(parts) != 2 {
		t.Fatalf("coordinator on broker %d; partitions elsewhere %v, want 2", coord, parts)
	}
	t.Logf("coordinator on broker %d, writing to partitions %v", coord, parts)

	// The coordinator's broker cannot write those markers itself.
	rc := dialRaw(t, kc.addrs[int(coord)])
	probe := markerReq(1, 1<<40, 0, false, 0, map[string][]int32{topic: {parts[0]}})
	if codes := markerCodes(t, probe, roundTrip[*kmsg.WriteTxnMarkersResponse](rc, probe)); codes[0][0] != kerr.NotLeaderForPartition.Code {
		t.Fatalf("WriteTxnMarkers on the coordinator's broker: %v, want NOT_LEADER_OR_FOLLOWER", kerr.ErrorForCode(codes[0][0]))
	}

	cl := kc.client(t, kgo.TransactionalID(id), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionTimeout(20*time.Second),
		kgo.RetryTimeout(15*time.Second))
	txn := func(values []string, end kgo.TransactionEndTry) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatalf("begin: %v", err)
		}
		for i, v := range values {
			r := kgo.StringRecord(v)
			r.Partition = parts[i%len(parts)]
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce %s: %v", v, err)
			}
		}
		if err := cl.EndTransaction(ctx, end); err != nil {
			t.Fatalf("end transaction (commit %v): %v", end, err)
		}
	}
	// waitStable waits until the last stable offset of every partition
	// reaches its high watermark, at least minHW: the markers of the last
	// transaction, written after EndTxn is answered, are in.
	waitStable := func(minHW int64) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			end, err := adm.ListEndOffsets(ctx, topic)
			if err != nil {
				t.Fatal(err)
			}
			stable, err := adm.ListCommittedOffsets(ctx, topic)
			if err != nil {
				t.Fatal(err)
			}
			done := true
			for _, p := range parts {
				e, _ := end.Lookup(topic, p)
				s, _ := stable.Lookup(topic, p)
				if e.Err != nil || s.Err != nil {
					t.Fatalf("partition %d: list offsets: %v, %v", p, e.Err, s.Err)
				}
				if e.Offset < minHW || s.Offset != e.Offset {
					done = false
					if time.Now().After(deadline) {
						t.Fatalf("partition %d: last stable offset %d, high watermark %d (want >= %d): markers not written",
							p, s.Offset, e.Offset, minHW)
					}
				}
			}
			if done {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	txn([]string{"c1", "c2", "c3", "c4"}, kgo.TryCommit)
	waitStable(3) // 2 records and the commit marker on each partition
	txn([]string{"x1", "x2", "x3"}, kgo.TryAbort)
	waitStable(5) // then 1 or 2 records and the abort marker
	got := readValues(t, kc, topic, kgo.ReadCommitted(), 4)
	slices.Sort(got)
	if want := []string{"c1", "c2", "c3", "c4"}; !slices.Equal(got, want) {
		t.Fatalf("read_committed consumer read %v, want %v", got, want)
	}
}

// TestPeersReconnect: the inter-broker client reuses its connection,
// reconnects after a failure, and fails once closed.
func TestPeersReconnect(t *testing.T) {
	_, addr := serve(t, &stubBackend{}, Config{})
	ps := newPeers()
	defer ps.Close()
	send := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req := markerReq(0, 1, 0, true, 0, map[string][]int32{"t": {0}})
		resp, err := ps.request(ctx, 2, addr, req, 1)
		if err != nil {
			return err
		}
		if r := resp.(*kmsg.WriteTxnMarkersResponse); r.Version != 1 || r.Markers[0].Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("answer %+v, want v1 with no error", r)
		}
		return nil
	}
	if err := send(); err != nil {
		t.Fatal(err)
	}
	pc := ps.conn(2)
	first := pc.nc
	if err := send(); err != nil {
		t.Fatal(err)
	}
	if pc.nc != first || pc.corr != 3 { // ApiVersions, then two requests
		t.Fatalf("connection not reused (correlation id %d)", pc.corr)
	}
	first.Close() // broken under the client
	if err := send(); err == nil {
		t.Fatal("request on a closed connection succeeded")
	}
	if err := send(); err != nil {
		t.Fatalf("no reconnect: %v", err)
	}
	ps.Close()
	if err := send(); err == nil {
		t.Fatal("request after Close succeeded")
	}
}

// TestPeersDeadline: a broker that never answers costs a request its ctx,
// not more, and sees the inter-broker client id.
func TestPeersDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	header := make(chan *request, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		frame, err := readFrame(nc, 1<<20)
		if err != nil {
			return
		}
		r, _ := decodeRequest(frame)
		header <- r
		io.Copy(io.Discard, nc) // never answers
	}()
	ps := newPeers()
	defer ps.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = ps.request(ctx, 2, ln.Addr().String(), markerReq(1, 1, 0, true, 0, map[string][]int32{"t": {0}}), 1)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("request to a silent broker: %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("request took %s", d)
	}
	r := <-header
	if r == nil || r.key != 18 || r.clientID != peerClientID || r.corr != 1 {
		t.Fatalf("first request %+v, want ApiVersions from %q with correlation id 1", r, peerClientID)
	}
}
