package kafka

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
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
