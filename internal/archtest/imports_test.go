// Package archtest checks that chronik's packages depend on each other in one
// direction only: cli -> kafka -> coordinator -> engine -> shards -> segment,
// cli -> bench.
package archtest

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/chronik-io/chronik"

// allowed lists, per top-level package, the chronik packages it may import.
// A package not listed here may import nothing of chronik's except internal/.
var allowed = map[string][]string{
	"segment":     {},
	"acl":         {}, // a leaf: bindings and the authorizer, stored by shards, enforced by kafka
	"shards":      {"segment", "acl", "internal"},
	"engine":      {"shards", "segment", "acl", "internal"},
	"coordinator": {"engine", "internal"},
	"kafka":       {"coordinator", "engine", "acl", "internal"},
	"bench":       {"engine", "kafka", "internal"},
	"cli":         {"coordinator", "engine", "kafka", "bench", "shards", "segment", "acl", "internal", "cli"},
	"internal":    {"internal", "segment", "shards", "engine", "kafka", "acl"},
}

// forbiddenExternal lists module prefixes a package must not import.
var forbiddenExternal = map[string][]string{
	"segment":     {"github.com/lni/", "github.com/twmb/"},
	"acl":         {"github.com/lni/", "github.com/twmb/"},
	"engine":      {"github.com/twmb/franz-go/pkg/kgo"},
	"kafka":       {"github.com/lni/"},
	"coordinator": {"github.com/lni/", "github.com/twmb/franz-go/pkg/kgo"},
	// pebble is dragonboat's, pinned old (TestPebbleIsDragonboats): only
	// the package that tunes dragonboat's pebble LogDB may import it.
	"*": {"github.com/cockroachdb/pebble"},
}

// externalExceptions are the packages exempt from forbiddenExternal["*"].
var externalExceptions = map[string]bool{
	module + "/internal/raftconf": true, // sets pebble options dragonboat does not expose
}

type pkg struct {
	ImportPath string
	Imports    []string
}

func top(path string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(path, module), "/")
	if i := strings.IndexByte(rel, '/'); i >= 0 {
		return rel[:i]
	}
	return rel
}

func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		n++
		from := top(p.ImportPath)
		for _, imp := range p.Imports {
			forbidden := forbiddenExternal[from]
			if !externalExceptions[p.ImportPath] {
				forbidden = append(forbidden, forbiddenExternal["*"]...)
			}
			for _, bad := range forbidden {
				if strings.HasPrefix(imp, bad) {
					t.Errorf("%s imports %s, which %s must not", p.ImportPath, imp, from)
				}
			}
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			to := top(imp)
			if to == from && from != "internal" && from != "cli" {
				continue
			}
			ok := false
			for _, a := range allowed[from] {
				ok = ok || a == to
			}
			if !ok {
				t.Errorf("%s imports %s: %s may not depend on %s", p.ImportPath, imp, from, to)
			}
		}
	}
	if n < 5 {
		t.Fatalf("go list found only %d packages", n)
	}
}

// TestPebbleIsDragonboats: the pebble in chronik's build is the one
// dragonboat requires. A newer one breaks dragonboat's build; chronik's own
// import of it (internal/raftconf) must never be what selects it.
func TestPebbleIsDragonboats(t *testing.T) {
	out, err := exec.Command("go", "mod", "graph").Output()
	if err != nil {
		t.Fatalf("go mod graph: %v", err)
	}
	const pebble = "github.com/cockroachdb/pebble@"
	selected, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/cockroachdb/pebble").Output()
	if err != nil {
		t.Fatalf("go list -m pebble: %v", err)
	}
	want := ""
	for _, line := range strings.Split(string(out), "\n") {
		from, to, ok := strings.Cut(line, " ")
		if ok && strings.HasPrefix(from, "github.com/lni/dragonboat/v4@") && strings.HasPrefix(to, pebble) {
			want = strings.TrimPrefix(to, pebble)
		}
	}
	if want == "" {
		t.Fatal("dragonboat requires no pebble in the module graph")
	}
	if got := strings.TrimSpace(string(selected)); got != want {
		t.Fatalf("the build selects pebble %s; dragonboat requires %s", got, want)
	}
}
