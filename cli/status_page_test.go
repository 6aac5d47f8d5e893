package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/chronik-io/chronik/engine"
)

// pageTables is what a rendered status page shows, read back from its
// HTML by the data attributes and cell classes of its tables.
type pageTables struct {
	health     map[string]string            // data-metric -> card value
	partitions map[string]map[string]string // "topic/partition" -> cell class -> text
	groups     map[string]map[string]string // "group|topic/partition" -> cell class -> text
	groupNames []string                     // text of the td.group cells
	scripts    []string                     // text of every <script> element
	refreshes  string                       // body's data-refreshes
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}

// cells maps the classes of a row's cells to their text.
func cells(tr *html.Node) map[string]string {
	m := map[string]string{}
	for td := tr.FirstChild; td != nil; td = td.NextSibling {
		if td.Type != html.ElementNode || td.Data != "td" {
			continue
		}
		cl, _ := attr(td, "class")
		for _, c := range strings.Fields(cl) {
			m[c] = textOf(td)
		}
	}
	return m
}

// parsePage reads a status page (served, or as Chromium's DOM dump).
func parsePage(t *testing.T, page []byte) pageTables {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	pt := pageTables{health: map[string]string{}, partitions: map[string]map[string]string{}, groups: map[string]map[string]string{}}
	var table string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "body":
				pt.refreshes, _ = attr(n, "data-refreshes")
			case "script":
				pt.scripts = append(pt.scripts, textOf(n))
			case "table":
				table, _ = attr(n, "id")
			case "div":
				if m, ok := attr(n, "data-metric"); ok {
					pt.health[m] = textOf(n)
				}
			case "tr":
				part, hasPart := attr(n, "data-partition")
				group, hasGroup := attr(n, "data-group")
				switch {
				case table == "partitions" && hasPart:
					pt.partitions[part] = cells(n)
				case table == "groups" && hasGroup:
					c := cells(n)
					pt.groups[group+"|"+part] = c
					pt.groupNames = append(pt.groupNames, c["group"])
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return pt
}

// A topic or group name is rendered as text: a name that is markup never
// becomes an element, and the page's only script is the one the CSP
// allows by hash.
func TestStatusPageEscapesNames(t *testing.T) {
	const evil = `<script>alert(1)</script><img src=x onerror=alert(2)>`
	s := StatusResponse{Broker: 1, ClusterID: `"><b>id`, Time: time.Now(),
		Brokers: []StatusBroker{{ID: 1, KafkaAddr: "<i>addr", Online: true, Self: true}},
		Topics: []StatusTopic{{Name: evil, Partitions: []StatusPartition{{Partition: 0, Leader: 1, Replicas: []uint64{1},
			Local: &StatusReplica{Topic: evil, IsLeader: true, HighWatermark: 42}}}}},
		Groups:        []StatusGroup{{Name: evil, State: "Empty", Offsets: []StatusGroupOffset{{Topic: evil, Committed: 40, HighWatermark: 42, Lag: 2}}}},
		LeaderChanges: []LeaderChange{{Time: time.Now(), Topic: evil, NewLeader: 1, Term: 2}},
	}
	var buf bytes.Buffer
	if err := statusPage.Execute(&buf, struct {
		S       StatusResponse
		Refresh int
		Keep    int
	}{s, 5, recentLeaderChanges}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, raw := range []string{"<script>alert", "<img", "<b>", "<i>"} {
		if strings.Contains(out, raw) {
			t.Errorf("page contains unescaped %q", raw)
		}
	}
	if !strings.Contains(out, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("page does not show the escaped name")
	}
	pt := parsePage(t, buf.Bytes())
	if c := pt.partitions[evil+"/0"]; c["topic"] != evil || c["hwm"] != "42" {
		t.Errorf("partition row of %q: %v", evil, c)
	}
	if c := pt.groups[evil+"|"+evil+"/0"]; c["group"] != evil || c["lag"] != "2" {
		t.Errorf("group row of %q: %v", evil, c)
	}
	if len(pt.scripts) != 1 {
		t.Fatalf("%d scripts in the page, want 1", len(pt.scripts))
	}
	checkScriptHash(t, pt.scripts[0])
}

// checkScriptHash fails unless the CSP allows script by its hash.
func checkScriptHash(t *testing.T, script string) {
	t.Helper()
	// textOf trimmed the script; hash the page's exact text.
	_, rest, _ := strings.Cut(statusPageHTML, "<script>")
	exact, _, _ := strings.Cut(rest, "</script>")
	if strings.TrimSpace(exact) != script {
		t.Fatalf("rendered script differs from status_page.html's")
	}
	sum := sha256.Sum256([]byte(exact))
	if want := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(statusPageCSP, "script-src "+want) {
		t.Errorf("CSP %q does not allow the script (%s)", statusPageCSP, want)
	}
}

// The ring keeps the last n changes, newest first, each with the leader
// seen before it for that group.
func TestLeaderChangeLog(t *testing.T) {
	l := newLeaderChangeLog(3)
	if got := l.recent(); len(got) != 0 {
		t.Fatalf("empty log: %v", got)
	}
	t0 := time.Unix(1000, 0)
	l.add(t0, "a", 0, 1, 1)
	l.add(t0.Add(1), "a", 0, 2, 2)
	l.add(t0.Add(2), "b", 1, 3, 1)
	l.add(t0.Add(3), "a", 0, 0, 3)
	l.add(t0.Add(4), "", -1, 0, 3)
	got := l.recent()
	want := []LeaderChange{
		{Time: t0.Add(4), Topic: "", Partition: -1, Term: 3},
		{Time: t0.Add(3), Topic: "a", Partition: 0, OldLeader: 2, NewLeader: 0, Term: 3},
		{Time: t0.Add(2), Topic: "b", Partition: 1, OldLeader: 0, NewLeader: 3, Term: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("recent() = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("recent()[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	var nilLog *leaderChangeLog
	if nilLog.recent() != nil {
		t.Error("nil log has changes")
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// fakeStatusEngine is a statusSource engine with fixed metadata and
// replicas.
type fakeStatusEngine struct {
	md       engine.Metadata
	replicas []engine.ReplicaStatus
}

func (f fakeStatusEngine) NodeID() uint64                            { return 1 }
func (f fakeStatusEngine) ClusterID() string                         { return "c" }
func (f fakeStatusEngine) Metadata(...string) engine.Metadata        { return f.md }
func (f fakeStatusEngine) LocalReplicas(bool) []engine.ReplicaStatus { return f.replicas }
func (f fakeStatusEngine) PartitionStats(topic string, p int32) (engine.PartitionStats, error) {
	for _, r := range f.replicas {
		if r.Topic == topic && r.Partition == p {
			return r.PartitionStats, nil
		}
	}
	return engine.PartitionStats{}, engine.ErrUnknownPartition
}

// Each partition's health flags are clusterHealthOf's for it alone, so
// they add up to the broker's gauges, and the page marks the bad ones.
func TestStatusSnapshotHealth(t *testing.T) {
	md := engine.Metadata{ClusterID: "c", ControllerID: 1,
		Brokers: []engine.Broker{{ID: 1, KafkaAddr: "h1:9092"}, {ID: 2, KafkaAddr: "h2:9092"}, {ID: 3}}, // 3 never registered
		Topics: []engine.TopicInfo{{Name: "t", Partitions: []engine.PartitionInfo{
			{Partition: 0, Leader: 1, Replicas: []uint64{1, 3}, ISR: []uint64{1, 3}}, // led here, a replica offline: under-replicated
			{Partition: 1, Leader: 2, Replicas: []uint64{2, 3}, ISR: []uint64{2, 3}}, // led by 2: offline replica, counted by 2
			{Partition: 2, Leader: 0, Replicas: []uint64{1, 2}, ISR: []uint64{1, 2}}, // leaderless
			{Partition: 3, Leader: 1, Replicas: []uint64{1, 2}, ISR: []uint64{1, 2}}, // fine
		}}}}
	f := fakeStatusEngine{md: md, replicas: []engine.ReplicaStatus{
		{Topic: "t", Partition: 0, PartitionStats: engine.PartitionStats{IsLeader: true, HighWatermark: 10}},
		{Topic: "t", Partition: 2, PartitionStats: engine.PartitionStats{HighWatermark: 4}},
	}}
	st := statusSource{e: f}.snapshot()
	h := clusterHealthOf(md, 1)
	if want := (StatusHealth{h.led, h.leaderless, h.underReplicated, h.offlineReplicas}); st.Health != want {
		t.Errorf("health %+v, want clusterHealthOf's %+v", st.Health, want)
	}
	if st.Health != (StatusHealth{PartitionsLed: 2, Leaderless: 1, UnderReplicated: 1, OfflineReplicas: 2}) {
		t.Errorf("health %+v", st.Health)
	}
	var sum StatusHealth
	for _, p := range st.Topics[0].Partitions {
		if p.Leaderless {
			sum.Leaderless++
		}
		if p.UnderReplicated {
			sum.UnderReplicated++
		}
		sum.OfflineReplicas += p.OfflineReplicas
	}
	if sum.Leaderless != st.Health.Leaderless || sum.UnderReplicated != st.Health.UnderReplicated || sum.OfflineReplicas != st.Health.OfflineReplicas {
		t.Errorf("partition flags add up to %+v, gauges are %+v", sum, st.Health)
	}
	if b := st.Brokers; len(b) != 3 || !b[0].Self || b[0].Leads != 2 || b[1].Leads != 1 || b[2].Online {
		t.Errorf("brokers %+v", b)
	}
	var buf bytes.Buffer
	if err := statusPage.Execute(&buf, struct {
		S       StatusResponse
		Refresh int
		Keep    int
	}{st, 0, recentLeaderChanges}); err != nil {
		t.Fatal(err)
	}
	pt := parsePage(t, buf.Bytes())
	for part, want := range map[string]string{"t/0": "under-replicated", "t/1": "1 replica(s) offline", "t/2": "leaderless", "t/3": "ok"} {
		if got := pt.partitions[part]["state"]; got != want {
			t.Errorf("page state of %s = %q, want %q", part, got, want)
		}
	}
	if pt.partitions["t/0"]["hwm"] != "10" || pt.partitions["t/2"]["hwm"] != "4" || pt.partitions["t/1"]["hwm"] != "-" {
		t.Errorf("page high watermarks: %v", pt.partitions)
	}
	if pt.health["chronik_under_replicated_partitions"] != "1" || pt.health["chronik_offline_replicas"] != "2" {
		t.Errorf("page health cards: %v", pt.health)
	}
}
