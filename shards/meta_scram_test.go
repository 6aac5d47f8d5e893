package shards

import (
	"bytes"
	"encoding/json"
	"testing"
)

func testCred(iters int) ScramCredential {
	return ScramCredential{Salt: []byte("salt"), Iterations: iters, StoredKey: []byte("sk"), ServerKey: []byte("svk")}
}

func TestMetaAlterScram(t *testing.T) {
	m := NewMetaSM(nil)
	const s256, s512 = "SCRAM-SHA-256", "SCRAM-SHA-512"
	steps := []struct {
		name  string
		alt   *ScramAlteration
		want  uint64
		users map[string]int // user -> mechanisms after the step
	}{
		{"no alteration", nil, MetaBadCommand, nil},
		{"empty user", &ScramAlteration{Set: map[string]ScramCredential{s256: testCred(4096)}}, MetaBadCommand, nil},
		{"unknown mechanism", &ScramAlteration{User: "a", Set: map[string]ScramCredential{"SCRAM-SHA-1": testCred(4096)}}, MetaBadCommand, nil},
		{"too few iterations", &ScramAlteration{User: "a", Set: map[string]ScramCredential{s256: testCred(4095)}}, MetaBadCommand, nil},
		{"too many iterations", &ScramAlteration{User: "a", Set: map[string]ScramCredential{s256: testCred(16385)}}, MetaBadCommand, nil},
		{"set a", &ScramAlteration{User: "a", Set: map[string]ScramCredential{s256: testCred(4096), s512: testCred(8192)}, Secret: []byte("first")}, MetaOK, map[string]int{"a": 2}},
		{"if absent keeps a", &ScramAlteration{User: "a", Set: map[string]ScramCredential{s256: testCred(9999)}, IfAbsent: true, Secret: []byte("second")}, MetaOK, map[string]int{"a": 2}},
		{"delete unknown: nothing changes", &ScramAlteration{User: "b", Set: map[string]ScramCredential{s256: testCred(4096)}, Delete: []string{s512}}, MetaUnknownCredential, map[string]int{"a": 2}},
		{"delete one of a", &ScramAlteration{User: "a", Delete: []string{s256}}, MetaOK, map[string]int{"a": 1}},
		{"set b", &ScramAlteration{User: "b", Set: map[string]ScramCredential{s256: testCred(4096)}}, MetaOK, map[string]int{"a": 1, "b": 1}},
		{"delete rest of a", &ScramAlteration{User: "a", Delete: []string{s512}}, MetaOK, map[string]int{"b": 1}},
	}
	for i, st := range steps {
		before := m.State()
		res := applyMeta(t, m, uint64(i+1), MetaCommand{Op: OpAlterScram, Scram: st.alt})
		if res.Value != st.want {
			t.Fatalf("%s: result %d, want %d", st.name, res.Value, st.want)
		}
		got := map[string]int{}
		for u, creds := range m.State().ScramUsers {
			got[u] = len(creds)
		}
		if len(got) != len(st.users) {
			t.Fatalf("%s: users %v, want %v", st.name, got, st.users)
		}
		for u, n := range st.users {
			if got[u] != n {
				t.Fatalf("%s: users %v, want %v", st.name, got, st.users)
			}
		}
		if st.name == "delete one of a" && len(before.ScramUsers["a"]) != 2 {
			t.Fatalf("the previous state changed: copy on write broken")
		}
	}
	if got := m.State().ScramSecret; !bytes.Equal(got, []byte("first")) {
		t.Fatalf("ScramSecret %q, want the first one proposed", got)
	}
	if c := m.State().ScramUsers["b"]["SCRAM-SHA-256"]; c.Iterations != 4096 || string(c.StoredKey) != "sk" {
		t.Fatalf("credential of b: %+v", c)
	}
}

// A snapshot from before SCRAM users decodes, and one with users
// round-trips.
func TestMetaScramSnapshotCompat(t *testing.T) {
	old := `{"ClusterID":"c","Brokers":{},"Topics":{},"Leaders":{},"NextShardID":100,"NextProducerID":1000,"Cursor":0,"Index":7}`
	m := NewMetaSM(nil)
	if err := m.RecoverFromSnapshot(bytes.NewReader([]byte(old)), nil, nil); err != nil {
		t.Fatal(err)
	}
	if len(m.State().ScramUsers) != 0 {
		t.Fatalf("users from an old snapshot: %v", m.State().ScramUsers)
	}
	applyMeta(t, m, 8, MetaCommand{Op: OpAlterScram, Scram: &ScramAlteration{User: "u", Set: map[string]ScramCredential{"SCRAM-SHA-512": testCred(4096)}}})
	var buf bytes.Buffer
	if err := m.SaveSnapshot(&buf, nil, nil); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("password")) {
		t.Fatalf("snapshot mentions a password: %s", buf.Bytes())
	}
	m2 := NewMetaSM(nil)
	if err := m2.RecoverFromSnapshot(&buf, nil, nil); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(m.State())
	b, _ := json.Marshal(m2.State())
	if !bytes.Equal(a, b) {
		t.Fatalf("round trip:\n%s\n%s", a, b)
	}
}
