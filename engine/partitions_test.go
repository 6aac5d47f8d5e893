package engine_test

import (
	"errors"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
)

// CreatePartitions adds partitions that every broker sees, that elect
// leaders and take records, and that survive a restart; existing partitions
// keep their data; fewer or as many partitions, unknown topics and internal
// topics are refused.
func TestCreatePartitions(t *testing.T) {
	c := testcluster.New(t, 3)
	c.CreateTopic(t, "grow", engine.TopicConfig{Partitions: 2, ReplicationFactor: 2})
	produceLeader(t, c, "grow", 0, records("old", 10))

	e := c.Engine(2)
	if err := e.CheckCreatePartitions("grow", 5); err != nil {
		t.Fatalf("validate 2 -> 5: %v", err)
	}
	if err := e.CreatePartitions(ctxT(t, 20*time.Second), "grow", 5); err != nil {
		t.Fatalf("create partitions 2 -> 5: %v", err)
	}
	for _, i := range c.Running() {
		md := c.Engine(i).Metadata()
		for _, ti := range md.Topics {
			if ti.Name != "grow" {
				continue
			}
			if len(ti.Partitions) != 5 || ti.Config.Partitions != 5 {
				t.Fatalf("engine %d: %d partitions after growing to 5", i, len(ti.Partitions))
			}
			for _, p := range ti.Partitions {
				if len(p.Replicas) != 2 {
					t.Fatalf("engine %d: partition %d has replicas %v, want the topic's 2", i, p.Partition, p.Replicas)
				}
			}
		}
	}
	for p := int32(2); p < 5; p++ {
		if res := produceLeader(t, c, "grow", p, records("new", 3)); res.BaseOffset != 0 {
			t.Fatalf("new partition %d: base offset %d, want 0", p, res.BaseOffset)
		}
	}

	for _, tc := range []struct {
		name  string
		topic string
		count int32
		want  error
	}{
		{"as many", "grow", 5, engine.ErrInvalidPartitions},
		{"fewer", "grow", 3, engine.ErrInvalidPartitions},
		{"over the limit", "grow", 10001, engine.ErrInvalidPartitions},
		{"unknown topic", "nope", 6, engine.ErrUnknownTopic},
	} {
		if err := e.CreatePartitions(ctxT(t, 5*time.Second), tc.topic, tc.count); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := e.CreateInternalTopic(ctxT(t, 20*time.Second), "__internal", engine.TopicConfig{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if err := e.CreatePartitions(ctxT(t, 5*time.Second), "__internal", 2); !errors.Is(err, engine.ErrInvalidPartitions) {
		t.Errorf("internal topic: %v, want ErrInvalidPartitions", err)
	}

	c.RestartAll()
	for p := int32(0); p < 5; p++ {
		c.WaitLeader(t, "grow", p, 20*time.Second)
	}
	want := map[int32]int{0: 10, 1: 0, 2: 3, 3: 3, 4: 3}
	for p, n := range want {
		if got := fetchAll(t, c.Engine(c.Leader("grow", p)), "grow", p); len(got) != n {
			t.Fatalf("partition %d after restart: %d records, want %d", p, len(got), n)
		}
	}
}
