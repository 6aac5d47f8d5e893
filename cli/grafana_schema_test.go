package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// dashboardSchemaPath is relative to the cli package; the schema says
// where it comes from.
const dashboardSchemaPath = "../deploy/grafana/dashboard.schema.json"

func compileDashboardSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(dashboardSchemaPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", dashboardSchemaPath, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertContent()
	if err := c.AddResource("file:///dashboard.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("file:///dashboard.schema.json")
	if err != nil {
		t.Fatalf("%s: %v", dashboardSchemaPath, err)
	}
	return sch
}

// lintDashboard validates a dashboard against the schema and checks what
// JSON Schema cannot: unique panel ids, panels inside the grid and not
// overlapping, every datasource uid an __inputs datasource, every panel
// type in __requires.
func lintDashboard(sch *jsonschema.Schema, raw []byte) []string {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return []string{err.Error()}
	}
	if err := sch.Validate(inst); err != nil {
		return []string{err.Error()}
	}
	type ds struct{ Type, UID string }
	type panel struct {
		ID         int
		Type       string
		Collapsed  bool
		GridPos    struct{ X, Y, W, H int }
		Datasource *ds
		Targets    []struct{ Datasource *ds }
		Panels     []panel
	}
	var d struct {
		Inputs []struct {
			Name, Type, PluginID string
		} `json:"__inputs"`
		Requires []struct{ Type, ID string } `json:"__requires"`
		Panels   []panel
		Templ    struct {
			List []struct {
				Name       string
				Datasource *ds
			}
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return []string{err.Error()}
	}
	var errs []string
	inputs := map[string]string{} // "${NAME}" -> plugin id
	for _, in := range d.Inputs {
		if in.Type == "datasource" {
			inputs["${"+in.Name+"}"] = in.PluginID
		}
	}
	checkDS := func(where string, s *ds) {
		if s == nil {
			return
		}
		if plugin, ok := inputs[s.UID]; !ok || plugin != s.Type {
			errs = append(errs, fmt.Sprintf("%s: datasource %+v is not a datasource input of __inputs", where, *s))
		}
	}
	required := map[string]bool{}
	for _, r := range d.Requires {
		required[r.Type+"/"+r.ID] = true
	}
	ids := map[int]bool{}
	var placed []image.Rectangle
	var walk func([]panel, bool)
	walk = func(ps []panel, nested bool) {
		for _, p := range ps {
			where := fmt.Sprintf("panel %d", p.ID)
			if ids[p.ID] {
				errs = append(errs, where+": duplicate id")
			}
			ids[p.ID] = true
			if p.GridPos.X+p.GridPos.W > 24 {
				errs = append(errs, fmt.Sprintf("%s: gridPos x %d + w %d is past the 24 columns", where, p.GridPos.X, p.GridPos.W))
			}
			if !nested { // a collapsed row's panels are laid out when it opens
				r := image.Rect(p.GridPos.X, p.GridPos.Y, p.GridPos.X+p.GridPos.W, p.GridPos.Y+p.GridPos.H)
				for _, o := range placed {
					if r.Overlaps(o) {
						errs = append(errs, fmt.Sprintf("%s: gridPos %v overlaps another panel at %v", where, r, o))
					}
				}
				placed = append(placed, r)
			}
			if p.Type != "row" && !required["panel/"+p.Type] {
				errs = append(errs, fmt.Sprintf("%s: panel type %q is not in __requires", where, p.Type))
			}
			checkDS(where, p.Datasource)
			for i, tg := range p.Targets {
				checkDS(fmt.Sprintf("%s target %d", where, i), tg.Datasource)
			}
			if p.Type == "row" && !p.Collapsed && len(p.Panels) > 0 {
				errs = append(errs, where+": an open row holds its panels at the top level, not in panels")
			}
			walk(p.Panels, true)
		}
	}
	walk(d.Panels, false)
	for _, v := range d.Templ.List {
		checkDS("variable "+v.Name, v.Datasource)
	}
	for _, plugin := range inputs {
		if !required["datasource/"+plugin] {
			errs = append(errs, fmt.Sprintf("datasource plugin %q of __inputs is not in __requires", plugin))
		}
	}
	return errs
}

// The Grafana dashboard is a valid dashboard JSON model: it validates
// against deploy/grafana/dashboard.schema.json (Grafana's dashboard kind,
// closed like Grafana's) and passes the layout and datasource checks.
// Breaking it in ways Grafana would refuse or misdraw fails the lint.
func TestGrafanaDashboardSchema(t *testing.T) {
	sch := compileDashboardSchema(t)
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range lintDashboard(sch, raw) {
		t.Errorf("%s: %s", dashboardPath, e)
	}

	// Each mutation of the dashboard must fail the lint with want.
	for _, tc := range []struct {
		name   string
		mutate func(d map[string]any)
		want   string
	}{
		{"no schemaVersion", func(d map[string]any) { delete(d, "schemaVersion") }, "schemaVersion"},
		{"old schemaVersion", func(d map[string]any) { d["schemaVersion"] = 16 }, "minimum"},
		{"unknown field", func(d map[string]any) { d["pannels"] = []any{} }, "pannels"},
		{"panel without gridPos", func(d map[string]any) { delete(panelAt(d, 1), "gridPos") }, "gridPos"},
		{"panel too wide", func(d map[string]any) { panelAt(d, 1)["gridPos"].(map[string]any)["w"] = 25 }, "maximum"},
		{"panel past the grid", func(d map[string]any) { panelAt(d, 1)["gridPos"].(map[string]any)["x"] = 20 }, "past the 24 columns"},
		{"overlapping panels", func(d map[string]any) {
			panelAt(d, 2)["gridPos"] = copyObject(panelAt(d, 1)["gridPos"])
		}, "overlaps"},
		{"duplicate id", func(d map[string]any) { panelAt(d, 2)["id"] = panelAt(d, 1)["id"] }, "duplicate id"},
		{"target without expr", func(d map[string]any) {
			delete(panelAt(d, 1)["targets"].([]any)[0].(map[string]any), "expr")
		}, "expr"},
		{"target without refId", func(d map[string]any) {
			delete(panelAt(d, 1)["targets"].([]any)[0].(map[string]any), "refId")
		}, "refId"},
		{"datasource as a string", func(d map[string]any) { panelAt(d, 1)["datasource"] = "Prometheus" }, "datasource"},
		{"unknown datasource input", func(d map[string]any) {
			panelAt(d, 1)["datasource"] = map[string]any{"type": "prometheus", "uid": "${DS_OTHER}"}
		}, "not a datasource input"},
		{"panel type not required", func(d map[string]any) { panelAt(d, 1)["type"] = "stat" }, "not in __requires"},
		{"variable sort", func(d map[string]any) {
			d["templating"].(map[string]any)["list"].([]any)[0].(map[string]any)["sort"] = 9
		}, "sort"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d map[string]any
			if err := json.Unmarshal(raw, &d); err != nil {
				t.Fatal(err)
			}
			tc.mutate(d)
			b, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			errs := lintDashboard(sch, b)
			if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, tc.want) }) {
				t.Errorf("lint errors %q, want one about %q", errs, tc.want)
			}
		})
	}
}

// panelAt returns the i-th top-level panel of dashboard d.
func panelAt(d map[string]any, i int) map[string]any {
	return d["panels"].([]any)[i].(map[string]any)
}

// copyObject copies a JSON object.
func copyObject(v any) map[string]any {
	out := map[string]any{}
	for k, x := range v.(map[string]any) {
		out[k] = x
	}
	return out
}
