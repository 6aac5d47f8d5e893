package engine_test

import (
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
)

// AlterTopicConfig changes a live topic: max.message.bytes and
// segment.bytes take effect on the running partition, unset returns a
// config to its default, replace drops the rest, and bad changes are
// refused without changing anything.
func TestAlterTopicConfig(t *testing.T) {
	c := testcluster.New(t, 1)
	c.CreateTopic(t, "cfg", engine.TopicConfig{Partitions: 1, MaxMessageBytes: 1024})
	e := c.Engine(1)
	big := []engine.Record{{Value: make([]byte, 4096)}}
	if _, err := e.Produce(ctxT(t, 10*time.Second), "cfg", 0, big); !errors.Is(err, engine.ErrRecordTooLarge) {
		t.Fatalf("4 KiB record under max.message.bytes=1024: %v", err)
	}
	alter := func(ch engine.ConfigChange, validateOnly bool) (map[string]string, error) {
		return e.AlterTopicConfig(ctxT(t, 10*time.Second), "cfg", ch, validateOnly)
	}
	got, err := alter(engine.ConfigChange{Set: map[string]string{"max.message.bytes": "1048576", "segment.bytes": "2048"}}, false)
	if err != nil || got["max.message.bytes"] != "1048576" || got["segment.bytes"] != "2048" {
		t.Fatalf("alter: %v, %v", got, err)
	}
	if _, err := e.Produce(ctxT(t, 10*time.Second), "cfg", 0, big); err != nil {
		t.Fatalf("4 KiB record after raising max.message.bytes: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		produceLeader(t, c, "cfg", 0, records("small", 20))
		st, err := e.PartitionStats("cfg", 0)
		if err != nil {
			t.Fatal(err)
		}
		if st.Segments >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d segments after segment.bytes=2048 and many appends", st.Segments)
		}
	}

	bad := []struct {
		name string
		ch   engine.ConfigChange
		want error
	}{
		{"bad value", engine.ConfigChange{Set: map[string]string{"retention.ms": "soon"}}, engine.ErrInvalidConfig},
		{"unknown name", engine.ConfigChange{Set: map[string]string{"no.such": "1"}}, engine.ErrInvalidConfig},
		{"unset unknown name", engine.ConfigChange{Unset: []string{"no.such"}}, engine.ErrInvalidConfig},
	}
	for _, tc := range bad {
		if _, err := alter(tc.ch, false); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := e.AlterTopicConfig(ctxT(t, 5*time.Second), "nope", engine.ConfigChange{}, false); !errors.Is(err, engine.ErrUnknownTopic) {
		t.Errorf("unknown topic: %v", err)
	}
	if got, err := alter(engine.ConfigChange{Set: map[string]string{"retention.ms": "1000"}}, true); err != nil || got["retention.ms"] != "1000" {
		t.Fatalf("validate only: %v, %v", got, err)
	}

	got, err = alter(engine.ConfigChange{Unset: []string{"segment.bytes"}}, false)
	if err != nil || !maps.Equal(got, map[string]string{"max.message.bytes": "1048576"}) {
		t.Fatalf("after unset (and a refused change and a validate-only one): %v, %v", got, err)
	}
	got, err = alter(engine.ConfigChange{Set: map[string]string{"retention.ms": "60000"}, Replace: true}, false)
	if err != nil || !maps.Equal(got, map[string]string{"retention.ms": "60000"}) {
		t.Fatalf("after replace: %v, %v", got, err)
	}
	for _, ti := range e.Metadata().Topics {
		if ti.Name == "cfg" && (ti.Config.RetentionMs != 60000 || ti.Config.MaxMessageBytes != 0) {
			t.Fatalf("metadata config after replace: %+v", ti.Config)
		}
	}
}
