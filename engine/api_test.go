package engine_test

import (
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoDragonboatInAPI type-checks package engine and fails if any exported
// name's type (function signatures, struct fields, methods) mentions a
// dragonboat package: embedders must not depend on the replication library.
func TestNoDragonboatInAPI(t *testing.T) {
	fset := token.NewFileSet()
	matches, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, m := range matches {
		if strings.HasSuffix(m, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, m, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	// Import dependencies from the compiler's export data (go list -export
	// builds or reuses it), which is much faster than type-checking the
	// dragonboat tree from source.
	out, err := exec.Command("go", "list", "-export", "-deps", "-f", "{{.ImportPath}}={{.Export}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -export: %v", err)
	}
	exports := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && v != "" {
			exports[k] = v
		}
	}
	lookup := func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "gc", lookup)}
	pkg, err := conf.Check("github.com/chronik-io/chronik/engine", fset, files, nil)
	if err != nil {
		t.Fatalf("type-check engine: %v", err)
	}
	bad := func(where string, typ types.Type) {
		s := types.TypeString(typ, nil)
		if strings.Contains(s, "github.com/lni/") {
			t.Errorf("%s exposes a dragonboat type: %s", where, s)
		}
	}
	checked := 0
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		checked++
		bad(name, obj.Type())
		if tn, ok := obj.(*types.TypeName); ok {
			if st, ok := tn.Type().Underlying().(*types.Struct); ok {
				for i := 0; i < st.NumFields(); i++ {
					if f := st.Field(i); f.Exported() {
						bad(name+"."+f.Name(), f.Type())
					}
				}
			}
			for _, typ := range []types.Type{tn.Type(), types.NewPointer(tn.Type())} {
				ms := types.NewMethodSet(typ)
				for i := 0; i < ms.Len(); i++ {
					if m := ms.At(i).Obj(); m.Exported() {
						bad(name+"."+m.Name(), m.Type())
					}
				}
			}
		}
	}
	// The check must be able to fail: the unexported NodeHost field is a
	// dragonboat type and is seen as one.
	eng := scope.Lookup("Engine").Type().Underlying().(*types.Struct)
	seen := false
	for i := 0; i < eng.NumFields(); i++ {
		seen = seen || strings.Contains(types.TypeString(eng.Field(i).Type(), nil), "github.com/lni/")
	}
	if !seen {
		t.Fatal("the checker does not recognise dragonboat types")
	}
	if checked < 20 {
		t.Fatalf("checked only %d exported names", checked)
	}
}
