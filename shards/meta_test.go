package shards

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	sm "github.com/lni/dragonboat/v4/statemachine"
)

func applyMeta(t *testing.T, m *MetaSM, idx uint64, c MetaCommand) sm.Result {
	t.Helper()
	res, err := m.Update(sm.Entry{Index: idx, Cmd: c.Encode()})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestMetaStateMachine(t *testing.T) {
	changes := 0
	m := NewMetaSM(func(*MetaState) { changes++ })
	steps := []struct {
		name    string
		cmd     MetaCommand
		wantVal uint64
		wantErr bool
	}{
		{"register 1", MetaCommand{Op: OpRegister, Broker: &BrokerInfo{ID: 1, KafkaAddr: "h1:9092"}}, MetaOK, false},
		{"register 2", MetaCommand{Op: OpRegister, Broker: &BrokerInfo{ID: 2, KafkaAddr: "h2:9092"}}, MetaOK, false},
		{"register 3", MetaCommand{Op: OpRegister, Broker: &BrokerInfo{ID: 3, KafkaAddr: "h3:9092"}}, MetaOK, false},
		{"register no id", MetaCommand{Op: OpRegister, Broker: &BrokerInfo{}}, MetaBadCommand, true},
		{"cluster id", MetaCommand{Op: OpInitCluster, ClusterID: "first"}, MetaOK, false},
		{"cluster id kept", MetaCommand{Op: OpInitCluster, ClusterID: "second"}, MetaOK, false},
		{"create", MetaCommand{Op: OpCreateTopic, Name: "a", Partitions: 3, RF: 2}, FirstPartitionShardID, false},
		{"create again", MetaCommand{Op: OpCreateTopic, Name: "a", Partitions: 1, RF: 1}, MetaTopicExists, true},
		{"create z", MetaCommand{Op: OpCreateTopic, Name: "z", TopicID: [16]byte{7}, Partitions: 1, RF: 1}, FirstPartitionShardID + 3, false},
		{"same create retried", MetaCommand{Op: OpCreateTopic, Name: "z", TopicID: [16]byte{7}, Partitions: 1, RF: 1}, FirstPartitionShardID + 3, false},
		{"other create of z", MetaCommand{Op: OpCreateTopic, Name: "z", TopicID: [16]byte{8}, Partitions: 1, RF: 1}, MetaTopicExists, true},
		{"rf too big", MetaCommand{Op: OpCreateTopic, Name: "b", Partitions: 1, RF: 4}, MetaNotEnoughBrokers, true},
		{"create b", MetaCommand{Op: OpCreateTopic, Name: "b", Partitions: 1, RF: 3}, FirstPartitionShardID + 4, false},
		{"pid", MetaCommand{Op: OpProducerID}, 1000, false},
		{"pid 2", MetaCommand{Op: OpProducerID}, 1001, false},
		{"leader", MetaCommand{Op: OpLeader, Shard: 100, Leader: 2, Epoch: 5}, MetaOK, false},
		{"stale leader", MetaCommand{Op: OpLeader, Shard: 100, Leader: 1, Epoch: 4}, MetaOK, false},
		{"add replica to no shard", MetaCommand{Op: OpAddReplica, Shard: 999, Replica: 1004}, MetaUnknownTopic, true},
		{"delete b", MetaCommand{Op: OpDeleteTopic, Name: "b"}, MetaOK, false},
		{"delete b again", MetaCommand{Op: OpDeleteTopic, Name: "b"}, MetaUnknownTopic, true},
		{"create c reuses no shard id", MetaCommand{Op: OpCreateTopic, Name: "c", Partitions: 1, RF: 1}, FirstPartitionShardID + 5, false},
		{"add replica to c", MetaCommand{Op: OpAddReplica, Shard: 105, Replica: 1002}, MetaOK, false},
		{"add partitions to a", MetaCommand{Op: OpAddPartitions, Name: "a", Partitions: 5}, FirstPartitionShardID + 6, false},
		{"add partitions to a: as many", MetaCommand{Op: OpAddPartitions, Name: "a", Partitions: 5}, MetaInvalidPartitions, true},
		{"add partitions to a: fewer", MetaCommand{Op: OpAddPartitions, Name: "a", Partitions: 2}, MetaInvalidPartitions, true},
		{"add partitions to a: too many", MetaCommand{Op: OpAddPartitions, Name: "a", Partitions: MaxPartitions + 1}, MetaInvalidPartitions, true},
		{"add partitions to no topic", MetaCommand{Op: OpAddPartitions, Name: "nope", Partitions: 5}, MetaUnknownTopic, true},
		{"create internal", MetaCommand{Op: OpCreateTopic, Name: "i", Internal: true, Partitions: 1, RF: 1}, FirstPartitionShardID + 8, false},
		{"add partitions to internal", MetaCommand{Op: OpAddPartitions, Name: "i", Partitions: 2}, MetaInvalidPartitions, true},
		{"alter configs of c", MetaCommand{Op: OpAlterConfigs, Name: "c", Configs: map[string]string{"retention.ms": "1000", "segment.bytes": "2048"}}, MetaOK, false},
		{"alter configs of c again", MetaCommand{Op: OpAlterConfigs, Name: "c", Configs: map[string]string{"retention.ms": "2000"}, Unset: []string{"segment.bytes"}}, MetaOK, false},
		{"alter configs of b (deleted)", MetaCommand{Op: OpAlterConfigs, Name: "b", Configs: map[string]string{"retention.ms": "1"}}, MetaUnknownTopic, true},
		{"replace configs of z", MetaCommand{Op: OpAlterConfigs, Name: "z", Configs: map[string]string{"cleanup.policy": "compact"}, Replace: true}, MetaOK, false},
		{"disk low on 2", MetaCommand{Op: OpDiskState, Broker: &BrokerInfo{ID: 2}, DiskLow: true, At: 5000}, MetaOK, false},
		{"disk low on 3", MetaCommand{Op: OpDiskState, Broker: &BrokerInfo{ID: 3}, DiskLow: true, At: 6000}, MetaOK, false},
		{"disk back on 3", MetaCommand{Op: OpDiskState, Broker: &BrokerInfo{ID: 3}}, MetaOK, false},
		{"disk state of no broker", MetaCommand{Op: OpDiskState, DiskLow: true}, MetaBadCommand, true},
		{"unknown op", MetaCommand{Op: "nope"}, MetaBadCommand, true},
	}
	for i, s := range steps {
		res := applyMeta(t, m, uint64(i+1), s.cmd)
		if res.Value != s.wantVal || (len(res.Data) > 0) != s.wantErr {
			t.Fatalf("%s: result %d (data %v), want %d (error %v)", s.name, res.Value, res.Data, s.wantVal, s.wantErr)
		}
	}
	st := m.State()
	if st.ClusterID != "first" || changes != len(steps) {
		t.Fatalf("cluster id %q, %d changes", st.ClusterID, changes)
	}
	a := st.Topics["a"]
	// Round robin: partition i starts at broker (i mod 3)+1; leaders spread.
	// Added partitions continue from the cursor (after a, z, b, c) with a's
	// replication factor; the first three are unchanged.
	want := [][]uint64{{1, 2}, {2, 3}, {3, 1}, {1, 2}, {2, 3}}
	if len(a.Partitions) != len(want) {
		t.Fatalf("a has %d partitions, want %d", len(a.Partitions), len(want))
	}
	shardOf := []uint64{100, 101, 102, 106, 107}
	for i, p := range a.Partitions {
		if !slices.Equal(p.Replicas, want[i]) || p.Preferred != want[i][0] || p.Shard != shardOf[i] {
			t.Fatalf("partition %d: %+v, want replicas %v", i, p, want[i])
		}
	}
	if l := st.Leaders[100]; l.Leader != 2 || l.Epoch != 5 {
		t.Fatalf("leader of 100: %+v", l)
	}
	if c := st.Topics["c"].Partitions[0]; !slices.Equal(c.Replicas, []uint64{c.Initial[0], 1002}) {
		t.Fatalf("c after add: %+v", c)
	}
	if got := st.Topics["c"].Configs; !maps.Equal(got, map[string]string{"retention.ms": "2000"}) {
		t.Fatalf("c configs after set, set and unset: %v", got)
	}
	if got := st.Topics["z"].Configs; !maps.Equal(got, map[string]string{"cleanup.policy": "compact"}) {
		t.Fatalf("z configs after replace: %v", got)
	}
	if !maps.Equal(st.DiskLow, map[uint64]int64{2: 5000}) {
		t.Fatalf("disk low brokers: %v, want 2 only", st.DiskLow)
	}
	// Snapshot round trip gives the same state, and the same next results.
	var buf bytes.Buffer
	if err := m.SaveSnapshot(&buf, nil, nil); err != nil {
		t.Fatal(err)
	}
	m2 := NewMetaSM(nil)
	if err := m2.RecoverFromSnapshot(bytes.NewReader(buf.Bytes()), nil, nil); err != nil {
		t.Fatal(err)
	}
	next := MetaCommand{Op: OpCreateTopic, Name: "d", Partitions: 2, RF: 3}
	r1, r2 := applyMeta(t, m, 100, next), applyMeta(t, m2, 100, next)
	if r1.Value != r2.Value || !slices.Equal(m.State().Topics["d"].Partitions[1].Replicas, m2.State().Topics["d"].Partitions[1].Replicas) {
		t.Fatalf("restored state diverges: %+v vs %+v", r1, r2)
	}
	if res, _ := m.Update(sm.Entry{Index: 101, Cmd: []byte("{not json")}); res.Value != MetaBadCommand || len(res.Data) == 0 {
		t.Fatalf("garbage command: %+v", res)
	}
}

// FuzzMetaCommand: any bytes as a __meta entry never panic and leave a state
// that snapshots.
func FuzzMetaCommand(f *testing.F) {
	f.Add([]byte(`{"op":"create","name":"a","partitions":2,"rf":1}`))
	f.Add([]byte(`{"op":"register","broker":{"ID":1}}`))
	f.Add([]byte(`{"op":"add-replica","shard":100,"replica":1002}`))
	f.Add([]byte(`{"op":"create","name":"x","partitions":-5,"rf":1}`))
	f.Add([]byte(`{"op":"add-partitions","name":"a","partitions":4}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, cmd []byte) {
		m := NewMetaSM(nil)
		applyMeta(t, m, 1, MetaCommand{Op: OpRegister, Broker: &BrokerInfo{ID: 1}})
		if _, err := m.Update(sm.Entry{Index: 2, Cmd: cmd}); err != nil {
			t.Fatal(err)
		}
		if err := m.SaveSnapshot(&bytes.Buffer{}, nil, nil); err != nil {
			t.Fatal(err)
		}
	})
}

// With racks, a partition's replicas go to different racks and preferred
// leaders still spread over every broker; without racks placement is by id.
func TestRackAwarePlacement(t *testing.T) {
	for _, tc := range []struct {
		name  string
		racks map[uint64]string
		// minRacks is the least number of racks each partition's 3
		// replicas must span.
		minRacks int
	}{
		{"three racks of two", map[uint64]string{1: "a", 2: "a", 3: "b", 4: "b", 5: "c", 6: "c"}, 3},
		{"two racks, uneven", map[uint64]string{1: "a", 2: "a", 3: "a", 4: "a", 5: "b", 6: "b"}, 2},
		{"no racks", map[uint64]string{1: "", 2: "", 3: "", 4: "", 5: "", 6: ""}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMetaSM(nil)
			idx := uint64(1)
			for id := uint64(1); id <= 6; id++ {
				applyMeta(t, m, idx, MetaCommand{Op: OpRegister, Broker: &BrokerInfo{ID: id, Rack: tc.racks[id]}})
				idx++
			}
			applyMeta(t, m, idx, MetaCommand{Op: OpCreateTopic, Name: "r", Partitions: 6, RF: 3})
			applyMeta(t, m, idx+1, MetaCommand{Op: OpAddPartitions, Name: "r", Partitions: 12})
			leaders := map[uint64]int{}
			for i, p := range m.State().Topics["r"].Partitions {
				racks := map[string]bool{}
				for _, r := range p.Replicas {
					racks[tc.racks[BrokerOf(r)]] = true
				}
				if len(racks) < tc.minRacks || len(p.Replicas) != 3 {
					t.Errorf("partition %d: replicas %v span racks %v, want at least %d", i, p.Replicas, racks, tc.minRacks)
				}
				leaders[BrokerOf(p.Preferred)]++
			}
			if len(leaders) != 6 {
				t.Errorf("preferred leaders %v, want all 6 brokers", leaders)
			}
			if tc.minRacks == 1 {
				if p := m.State().Topics["r"].Partitions[1]; !slices.Equal(p.Replicas, []uint64{2, 3, 4}) {
					t.Errorf("without racks partition 1 has replicas %v, want by id [2 3 4]", p.Replicas)
				}
			}
		})
	}
}

// TestMetaReplaceReplica: a damaged replica is replaced by its broker's
// next generation, listed as replaced until the leader reports the Raft
// membership changed; retries change nothing more; bad replacements are
// refused.
func TestMetaReplaceReplica(t *testing.T) {
	m := NewMetaSM(nil)
	idx := uint64(0)
	apply := func(c MetaCommand) sm.Result {
		idx++
		return applyMeta(t, m, idx, c)
	}
	for id := uint64(1); id <= 3; id++ {
		apply(MetaCommand{Op: OpRegister, Broker: &BrokerInfo{ID: id}})
	}
	if res := apply(MetaCommand{Op: OpCreateTopic, Name: "t", Partitions: 1, RF: 3}); len(res.Data) > 0 {
		t.Fatalf("create: %+v", res)
	}
	p := m.State().Topics["t"].Partitions[0]
	old := p.Replicas[1]
	apply(MetaCommand{Op: OpLeader, Shard: p.Shard, Leader: old, Epoch: 3})
	for _, c := range []struct {
		name string
		cmd  MetaCommand
		want uint64
	}{
		{"replace", MetaCommand{Op: OpReplaceReplica, Shard: p.Shard, Replica: old, NewReplica: old + ReplicaGenerationBase}, MetaOK},
		{"replace again", MetaCommand{Op: OpReplaceReplica, Shard: p.Shard, Replica: old, NewReplica: old + ReplicaGenerationBase}, MetaOK},
		{"other broker", MetaCommand{Op: OpReplaceReplica, Shard: p.Shard, Replica: p.Replicas[0], NewReplica: p.Replicas[2] + ReplicaGenerationBase}, MetaBadCommand},
		{"not a replica", MetaCommand{Op: OpReplaceReplica, Shard: p.Shard, Replica: 9, NewReplica: 1009}, MetaBadCommand},
		{"unknown shard", MetaCommand{Op: OpReplaceReplica, Shard: 999, Replica: old, NewReplica: old + ReplicaGenerationBase}, MetaUnknownTopic},
	} {
		if res := apply(c.cmd); res.Value != c.want {
			t.Fatalf("%s: result %d, want %d", c.name, res.Value, c.want)
		}
	}
	got := m.State().Topics["t"].Partitions[0]
	want := slices.Clone(p.Replicas)
	want[1] = old + ReplicaGenerationBase
	if !slices.Equal(got.Replicas, want) || !slices.Equal(got.Replaced, []uint64{old}) || !slices.Equal(got.Initial, p.Initial) {
		t.Fatalf("after replace: %+v, want replicas %v replaced [%d]", got, want, old)
	}
	if _, ok := m.State().Leaders[p.Shard]; ok {
		t.Fatal("the replaced replica is still recorded as leader")
	}
	apply(MetaCommand{Op: OpReplaceDone, Shard: p.Shard, Replica: old})
	if got := m.State().Topics["t"].Partitions[0]; len(got.Replaced) != 0 || !slices.Equal(got.Replicas, want) {
		t.Fatalf("after done: %+v", got)
	}
}

// BrokerInfo from before listeners decodes with no listeners; Equal
// compares them.
func TestBrokerInfoListeners(t *testing.T) {
	var old BrokerInfo
	if err := json.Unmarshal([]byte(`{"ID":2,"KafkaAddr":"h:9092","Rack":"a","Fenced":false}`), &old); err != nil {
		t.Fatal(err)
	}
	if old.KafkaAddr != "h:9092" || old.Listeners != nil {
		t.Fatalf("decoded %+v", old)
	}
	b, err := json.Marshal(old)
	if err != nil || strings.Contains(string(b), "Listeners") {
		t.Fatalf("old broker re-encoded as %s (%v): want no Listeners field", b, err)
	}
	withL := old
	withL.Listeners = map[string]string{"PLAINTEXT": "h:9092", "SSL": "h:9093"}
	for _, tc := range []struct {
		a, b BrokerInfo
		want bool
	}{
		{old, old, true},
		{old, withL, false},
		{withL, BrokerInfo{ID: 2, KafkaAddr: "h:9092", Rack: "a", Listeners: map[string]string{"SSL": "h:9093", "PLAINTEXT": "h:9092"}}, true},
		{withL, BrokerInfo{ID: 2, KafkaAddr: "h:9092", Rack: "a", Listeners: map[string]string{"SSL": "h:9094", "PLAINTEXT": "h:9092"}}, false},
	} {
		if got := tc.a.Equal(tc.b); got != tc.want {
			t.Errorf("%+v.Equal(%+v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
