package coordinator

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzDecodeStoredRecord: decoding any key and value of __consumer_offsets
// never panics, and a decoded record folds into a load state without
// panicking. Seeds live in testdata/fuzz/FuzzDecodeStoredRecord; f.Add adds
// each record kind, tombstones and truncations.
func FuzzDecodeStoredRecord(f *testing.F) {
	oc := &offsetCommit{offset: 7, leaderEpoch: 3, metadata: "m", committed: time.UnixMilli(1)}
	v := kmsg.NewGroupMetadataValue()
	v.ProtocolType, v.Generation, v.Protocol, v.Leader = "consumer", 4, kmsg.StringPtr("range"), kmsg.StringPtr("a")
	vm := kmsg.NewGroupMetadataValueMember()
	vm.MemberID, vm.SessionTimeoutMillis, vm.Subscription, vm.Assignment = "a", 10000, []byte{1}, []byte{2}
	v.Members = []kmsg.GroupMetadataValueMember{vm}
	for _, r := range []struct{ k, v []byte }{
		{offsetRecord("g", "t", 1, oc).Key, offsetRecord("g", "t", 1, oc).Value},
		{offsetRecord("g", "t", 1, nil).Key, nil},
		{groupRecord("g", &v).Key, groupRecord("g", &v).Value},
		{groupRecord("g", nil).Key, nil},
		{loadMarkerRecord().Key, loadMarkerRecord().Value},
		// KIP-848 consumer group records (consumer_records.go).
		{cgKey{version: recCGMetadata, group: "g"}.encode(), encodeEpochValue(3)},
		{cgKey{version: recCGPartitionMeta, group: "g"}.encode(), encodePartitionMeta([]topicMeta{{id: [16]byte{1}, name: "t", partitions: 2}})},
		{cgKey{version: recCGMemberMeta, group: "g", member: "m"}.encode(), encodeMemberMeta(cgMemberMeta{clientID: "c", topics: []string{"t"}, regex: kmsg.StringPtr("t.*")})},
		{cgKey{version: recCGTargetMember, group: "g", member: "m"}.encode(), encodeTargetMember(assignment{{1}: {0, 1}})},
		{cgKey{version: recCGCurrentAssign, group: "g", member: "m"}.encode(), encodeCurrent(cgCurrent{epoch: 2, assigned: assignment{{1}: {0}}, pending: assignment{{1}: {1}}})},
		{cgKey{version: recCGCurrentAssign, group: "g", member: "m"}.encode(), nil},
	} {
		f.Add(r.k, r.v, r.v == nil)
		if len(r.v) > 0 {
			f.Add(r.k, r.v[:len(r.v)/2], false)
			f.Add(r.k, append(append([]byte{}, r.v...), 0xff), false)
		}
		f.Add(r.k[:len(r.k)-1], r.v, false)
	}
	f.Add([]byte{}, []byte{}, false)
	f.Fuzz(func(t *testing.T, key, value []byte, tombstone bool) {
		if tombstone {
			value = nil
		}
		r, err := decodeStoredRecord(key, value)
		if err != nil {
			return
		}
		st := newLoadState()
		st.apply(r)
		if r.kind == recGroupKey && !r.tombstone {
			g := newGroup(&coordPartition{c: &Coordinator{}}, r.group)
			g.protocol = "" // restore must cope with any stored value
			if r.meta != nil && len(r.meta.Members) == 0 {
				g.restore(r.meta)
			}
		}
	})
}

// TestStoredRecordRoundTrip: what the coordinator writes decodes to the same
// values, and replaying keeps the last value of a key, tombstones delete.
func TestStoredRecordRoundTrip(t *testing.T) {
	oc := &offsetCommit{offset: 99, leaderEpoch: 5, metadata: "meta", committed: time.UnixMilli(1234)}
	rec := offsetRecord("grp", "topic", 3, oc)
	r, err := decodeStoredRecord(rec.Key, rec.Value)
	if err != nil {
		t.Fatal(err)
	}
	if r.kind != recOffsetKeyV1 || r.group != "grp" || r.topic != "topic" || r.partition != 3 ||
		r.offset.Offset != 99 || r.offset.LeaderEpoch != 5 || r.offset.Metadata != "meta" || r.offset.CommitTimestamp != 1234 {
		t.Fatalf("decoded %+v %+v", r, r.offset)
	}
	st := newLoadState()
	st.apply(r)
	oc.offset = 100
	rec = offsetRecord("grp", "topic", 3, oc)
	r, _ = decodeStoredRecord(rec.Key, rec.Value)
	st.apply(r)
	if got := st.groups["grp"].offsets[topicPartition{"topic", 3}].offset; got != 100 {
		t.Fatalf("after two commits offset %d, want 100", got)
	}
	tomb := offsetRecord("grp", "topic", 3, nil)
	r, _ = decodeStoredRecord(tomb.Key, tomb.Value)
	st.apply(r)
	if len(st.groups["grp"].offsets) != 0 {
		t.Fatal("tombstone did not delete the offset")
	}
	if _, err := decodeStoredRecord([]byte{0x12, 0x34}, nil); err == nil {
		t.Fatal("unknown key version decoded")
	}
}

// TestGroupPartitionMatchesKafka: the coordinator partition is Kafka's
// abs(String.hashCode) % n, including the MinInt32 and non-BMP cases.
func TestGroupPartitionMatchesKafka(t *testing.T) {
	for _, tc := range []struct {
		group string
		hash  int32
		p50   int32
	}{
		{"", 0, 0},
		{"a", 97, 47},
		{"my-group", -1906497762, 12},
		{"polygenelubricants", -1 << 31, 0}, // Java's hashCode is Integer.MIN_VALUE
		{"😀", 1772899, 49},                  // UTF-16 surrogate pair D83D DE00
	} {
		if h := javaStringHashCode(tc.group); h != tc.hash {
			t.Errorf("hash(%q) = %d, want %d", tc.group, h, tc.hash)
		}
		if p := PartitionFor(tc.group, 50); p != tc.p50 {
			t.Errorf("partition(%q, 50) = %d, want %d", tc.group, p, tc.p50)
		}
	}
}
