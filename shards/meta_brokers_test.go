package shards

import (
	"bytes"
	"slices"
	"testing"
)

// The broker table's ops: an added broker's address is recorded before it
// registers; a broker with a replica cannot be removed; a removed id is
// never taken back; its address goes only with OpBrokerLeft.
func TestMetaAddRemoveBroker(t *testing.T) {
	m := NewMetaSM(nil)
	idx := uint64(0)
	step := func(c MetaCommand, want uint64) {
		t.Helper()
		idx++
		if res := applyMeta(t, m, idx, c); res.Value != want {
			t.Fatalf("%s %+v: result %d, want %d", c.Op, c.Broker, res.Value, want)
		}
	}
	b := func(id uint64) *BrokerInfo { return &BrokerInfo{ID: id} }
	for id := uint64(1); id <= 3; id++ {
		step(MetaCommand{Op: OpRegister, Broker: &BrokerInfo{ID: id, KafkaAddr: "h:9092"}, RaftAddr: "h:700" + string(rune('0'+id))}, MetaOK)
	}
	step(MetaCommand{Op: OpAddBroker, Broker: b(4), RaftAddr: "h:7004"}, MetaOK)
	step(MetaCommand{Op: OpAddBroker, Broker: b(4), RaftAddr: "h:7004"}, MetaOK) // retried
	step(MetaCommand{Op: OpAddBroker, Broker: b(5), RaftAddr: "h:7004"}, MetaAddrInUse)
	step(MetaCommand{Op: OpAddBroker, Broker: b(5)}, MetaBadCommand)
	st := m.State()
	if st.RaftAddrs[4] != "h:7004" || len(st.RaftAddrs) != 4 {
		t.Fatalf("raft addrs %v", st.RaftAddrs)
	}
	if _, ok := st.Brokers[4]; ok {
		t.Fatal("an added broker is in the broker table before it registers")
	}
	step(MetaCommand{Op: OpRegister, Broker: &BrokerInfo{ID: 4, KafkaAddr: "h4:9092"}, RaftAddr: "h:7004"}, MetaOK)
	step(MetaCommand{Op: OpCreateTopic, Name: "t", Partitions: 4, RF: 1}, FirstPartitionShardID)
	if got := m.State().HostsReplicas(4); len(got) != 1 || got[0].Topic != "t" {
		t.Fatalf("partitions on broker 4: %v", got)
	}
	step(MetaCommand{Op: OpRemoveBroker, Broker: b(4)}, MetaBrokerHasReplicas)
	step(MetaCommand{Op: OpDeleteTopic, Name: "t"}, MetaOK)
	step(MetaCommand{Op: OpBrokerLeft, Broker: b(4)}, MetaBadCommand) // not removed yet
	step(MetaCommand{Op: OpRemoveBroker, Broker: b(4)}, MetaOK)
	step(MetaCommand{Op: OpRemoveBroker, Broker: b(4)}, MetaOK) // retried
	st = m.State()
	if _, ok := st.Brokers[4]; ok || !slices.Equal(st.RemovedBrokers, []uint64{4}) || st.RaftAddrs[4] == "" {
		t.Fatalf("after remove: brokers %v removed %v addrs %v", st.Brokers, st.RemovedBrokers, st.RaftAddrs)
	}
	step(MetaCommand{Op: OpRegister, Broker: &BrokerInfo{ID: 4, KafkaAddr: "h4:9092"}}, MetaBrokerRemoved)
	step(MetaCommand{Op: OpAddBroker, Broker: b(4), RaftAddr: "h:7004"}, MetaBrokerRemoved)
	step(MetaCommand{Op: OpBrokerLeft, Broker: b(4)}, MetaOK)
	if _, ok := m.State().RaftAddrs[4]; ok {
		t.Fatal("a broker that left keeps its address")
	}
	// The state survives a snapshot.
	var buf bytes.Buffer
	if err := m.SaveSnapshot(&buf, nil, nil); err != nil {
		t.Fatal(err)
	}
	m2 := NewMetaSM(nil)
	if err := m2.RecoverFromSnapshot(&buf, nil, nil); err != nil {
		t.Fatal(err)
	}
	if st := m2.State(); !st.Removed(4) || len(st.RaftAddrs) != 3 {
		t.Fatalf("recovered: removed %v addrs %v", st.RemovedBrokers, st.RaftAddrs)
	}
}
