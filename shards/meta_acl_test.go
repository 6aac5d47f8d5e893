package shards

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/chronik-io/chronik/acl"
)

func TestMetaACLs(t *testing.T) {
	m := NewMetaSM(nil)
	read := acl.Binding{ResourceType: acl.Topic, ResourceName: "t", PatternType: acl.Literal, Principal: "User:a", Host: "*", Operation: acl.Read, Permission: acl.Allow}
	write := read
	write.Operation = acl.Write
	bad := read
	bad.Principal = "a"
	steps := []struct {
		name    string
		cmd     MetaCommand
		want    uint64
		acls    []acl.Binding
		version uint64 // the Raft index of the last change
	}{
		{"create", MetaCommand{Op: OpCreateACLs, ACLs: []acl.Binding{read}}, MetaOK, []acl.Binding{read}, 1},
		{"create again: no change", MetaCommand{Op: OpCreateACLs, ACLs: []acl.Binding{read}}, MetaOK, []acl.Binding{read}, 1},
		{"create a second", MetaCommand{Op: OpCreateACLs, ACLs: []acl.Binding{read, write}}, MetaOK, []acl.Binding{read, write}, 3},
		{"invalid: nothing created", MetaCommand{Op: OpCreateACLs, ACLs: []acl.Binding{bad}}, MetaBadCommand, []acl.Binding{read, write}, 3},
		{"delete", MetaCommand{Op: OpDeleteACLs, ACLs: []acl.Binding{read}}, MetaOK, []acl.Binding{write}, 5},
		{"delete again: no change", MetaCommand{Op: OpDeleteACLs, ACLs: []acl.Binding{read}}, MetaOK, []acl.Binding{write}, 5},
	}
	for i, st := range steps {
		if got := applyMeta(t, m, uint64(i+1), st.cmd); got.Value != st.want {
			t.Fatalf("%s: result %d, want %d", st.name, got.Value, st.want)
		}
		s := m.State()
		if !slices.Equal(s.ACLs, st.acls) || s.ACLVersion != st.version {
			t.Fatalf("%s: ACLs %v version %d, want %v version %d", st.name, s.ACLs, s.ACLVersion, st.acls, st.version)
		}
	}
	var buf bytes.Buffer
	if err := m.SaveSnapshot(&buf, nil, nil); err != nil {
		t.Fatal(err)
	}
	m2 := NewMetaSM(nil)
	if err := m2.RecoverFromSnapshot(&buf, nil, nil); err != nil {
		t.Fatal(err)
	}
	if s := m2.State(); !slices.Equal(s.ACLs, []acl.Binding{write}) || s.ACLVersion != 5 {
		t.Fatalf("after snapshot: %v version %d", s.ACLs, s.ACLVersion)
	}
}

// A snapshot written before ACLs existed still recovers, with none.
func TestMetaSnapshotWithoutACLs(t *testing.T) {
	old := `{"ClusterID":"c","Brokers":{"1":{"ID":1,"KafkaAddr":"h:9092","Rack":"","Fenced":false}},"Topics":{},"Leaders":{},"NextShardID":100,"NextProducerID":1000,"Cursor":0,"Index":7}`
	m := NewMetaSM(nil)
	if err := m.RecoverFromSnapshot(strings.NewReader(old), nil, nil); err != nil {
		t.Fatal(err)
	}
	if s := m.State(); s.ClusterID != "c" || len(s.ACLs) != 0 || s.ACLVersion != 0 {
		t.Fatalf("state %+v", s)
	}
	read := acl.Binding{ResourceType: acl.Group, ResourceName: "g", PatternType: acl.Prefixed, Principal: "User:*", Host: "*", Operation: acl.Read, Permission: acl.Deny}
	applyMeta(t, m, 8, MetaCommand{Op: OpCreateACLs, ACLs: []acl.Binding{read}})
	if s := m.State(); len(s.ACLs) != 1 || s.ACLVersion != 8 {
		t.Fatalf("state %+v", s)
	}
}
