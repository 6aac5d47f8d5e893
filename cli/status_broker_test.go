//go:build unix

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-io/chronik/engine"
)

// chromiumPath finds Debian's chromium; absent, the test skips outside CI
// and fails in CI (.ci/run installs it).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not installed, and CI is set: .ci/run should have installed it (apt-get install chromium)")
	}
	t.Skip("chromium not installed: apt-get install chromium")
	return ""
}

// runChromium runs headless chromium with args in a process group of its
// own, bounded by timeout, and kills the whole group when it returns (its
// renderer and zygote children included). It returns stdout.
func runChromium(t *testing.T, bin string, timeout time.Duration, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // stragglers of the group
	}
	if err != nil {
		t.Fatalf("chromium %v: %v after %v (context: %v)\nstderr:\n%s", args, err, time.Since(start).Round(time.Millisecond), ctx.Err(), tail(stderr.String(), 3000))
	}
	t.Logf("chromium %s: %v", args[0], time.Since(start).Round(time.Millisecond))
	return stdout.Bytes()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// A real one-node broker with produced records and committed offsets: its
// status page (as served, and as headless Chromium renders it after its
// refresh script ran) shows each partition's high watermark and each
// group's lag as /metrics and /v1/status do, and a screenshot of it is a
// real rendering.
func TestStatusPageOneBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a chronik broker")
	}
	c, m, ln := startMeteredBroker(t)
	e := c.Engine(1)
	hs := httptest.NewServer(brokerHTTPHandler(e, m))
	t.Cleanup(hs.Close)

	const topic = "paged"
	const group, evilGroup = "paged-group", "<script>alert(1)</script>"
	counts := []int{7, 3} // records produced per partition
	c.CreateTopic(t, topic, engine.TopicConfig{Partitions: int32(len(counts)), Compression: "none"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kc, err := kgo.NewClient(kgo.SeedBrokers(ln.Addr().String()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	var recs []*kgo.Record
	for p, n := range counts {
		for range n {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(p), Value: []byte("v")})
		}
	}
	if err := kc.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(kc)
	commits := map[string][]int64{group: {2, 3}, evilGroup: {1}} // committed offset per partition
	for g, offs := range commits {
		var o kadm.Offsets
		for p, at := range offs {
			o.Add(kadm.Offset{Topic: topic, Partition: int32(p), At: at, LeaderEpoch: -1})
		}
		if _, err := adm.CommitOffsets(ctx, g, o); err != nil {
			t.Fatal(err)
		}
	}

	// The served page and /metrics, read back to back.
	get := func(path string) []byte {
		t.Helper()
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %v %s", path, resp.StatusCode, err, b)
		}
		return b
	}
	page := get("/")
	metrics := scrapeMetrics(t, m)
	var js StatusResponse
	if err := json.Unmarshal(get("/v1/status"), &js); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(page, []byte(evilGroup)) || !bytes.Contains(page, []byte("&lt;script&gt;alert(1)&lt;/script&gt;")) {
		t.Errorf("the page does not escape group name %q", evilGroup)
	}

	// want is what the page must show, from /metrics; the expected
	// figures check that /metrics itself has them right.
	type figure struct {
		series string
		want   int64
	}
	type check struct {
		row, cell string // partition row key or group|partition key, cell class
		figure
	}
	var checks []check
	for p, n := range counts {
		tp := fmt.Sprintf(`{partition="%d",topic="%s"}`, p, topic)
		checks = append(checks, check{fmt.Sprintf("%s/%d", topic, p), "hwm", figure{"chronik_partition_high_watermark" + tp, int64(n)}})
	}
	for g, offs := range commits {
		for p, at := range offs {
			gtp := fmt.Sprintf(`{group=%q,partition="%d",topic="%s"}`, g, p, topic)
			key := fmt.Sprintf("%s|%s/%d", g, topic, p)
			checks = append(checks,
				check{key, "lag", figure{"chronik_consumer_group_lag" + gtp, int64(counts[p]) - at}},
				check{key, "committed", figure{"chronik_consumer_group_committed_offset" + gtp, at}})
		}
	}
	health := []figure{{"chronik_partitions_led", 3}, {"chronik_leaderless_partitions", 0},
		{"chronik_under_replicated_partitions", 0}, {"chronik_offline_replicas", 0}}
	for _, f := range append(health, func() []figure {
		var fs []figure
		for _, c := range checks {
			fs = append(fs, c.figure)
		}
		return fs
	}()...) {
		if v, ok := metrics.samples[f.series]; !ok || int64(v) != f.want {
			t.Errorf("/metrics %s = %v (present %v), want %d", f.series, v, ok, f.want)
		}
	}
	checkPage := func(name string, pt pageTables) {
		t.Helper()
		for _, c := range checks {
			row := pt.partitions[c.row]
			if strings.Contains(c.row, "|") {
				row = pt.groups[c.row]
			}
			if got, want := row[c.cell], strconv.FormatInt(int64(metrics.samples[c.series]), 10); got != want {
				t.Errorf("%s: %s %s = %q, /metrics %s = %s", name, c.row, c.cell, got, c.series, want)
			}
		}
		for _, f := range health {
			if got, want := pt.health[f.series], strconv.FormatInt(int64(metrics.samples[f.series]), 10); got != want {
				t.Errorf("%s: card %s = %q, /metrics says %s", name, f.series, got, want)
			}
		}
		if g := pt.groups[evilGroup+"|"+topic+"/0"]["group"]; g != evilGroup {
			t.Errorf("%s: group %q shown as %q", name, evilGroup, g)
		}
		if len(pt.scripts) != 1 {
			t.Errorf("%s: %d scripts, want the page's own", name, len(pt.scripts))
		}
	}
	checkPage("served page", parsePage(t, page))

	// /v1/status has the same figures.
	jsParts := map[string]StatusPartition{}
	for _, tt := range js.Topics {
		for _, p := range tt.Partitions {
			jsParts[fmt.Sprintf("%s/%d", tt.Name, p.Partition)] = p
		}
	}
	for p, n := range counts {
		if sp := jsParts[fmt.Sprintf("%s/%d", topic, p)]; sp.Local == nil || sp.Local.HighWatermark != int64(n) || sp.Leader != 1 {
			t.Errorf("/v1/status %s/%d: %+v local %+v, want leader 1 high watermark %d", topic, p, sp, sp.Local, n)
		}
	}
	if h := js.Health; h.PartitionsLed != 3 || h.UnderReplicated != 0 {
		t.Errorf("/v1/status health %+v", h)
	}
	var lag int64
	for _, g := range js.Groups {
		if g.Name == group {
			lag = g.Lag
		}
	}
	if want := int64(counts[0]) - 2 + int64(counts[1]) - 3; lag != want {
		t.Errorf("/v1/status group %s lag %d, want %d", group, lag, want)
	}
	if len(js.LeaderChanges) == 0 {
		t.Errorf("/v1/status: no leader changes, want those of the broker's start")
	}

	// chronik cluster status shows the same figures.
	args := []string{"cluster", "status", "--brokers", ln.Addr().String(), "--http", strings.TrimPrefix(hs.URL, "http://")}
	out, err := runApp(t, append(args, "--json")...)
	if err != nil {
		t.Fatalf("cluster status: %v\n%s", err, out)
	}
	var cs ClusterStatus
	if err := json.Unmarshal([]byte(out), &cs); err != nil {
		t.Fatalf("cluster status --json: %v\n%s", err, out)
	}
	if len(cs.Errors) > 0 {
		t.Errorf("cluster status errors: %v", cs.Errors)
	}
	csHealth := map[string]int{"chronik_partitions_led": cs.Health.PartitionsLed, "chronik_leaderless_partitions": cs.Health.Leaderless,
		"chronik_under_replicated_partitions": cs.Health.UnderReplicated, "chronik_offline_replicas": cs.Health.OfflineReplicas}
	for _, f := range health {
		if got := csHealth[f.series]; float64(got) != metrics.samples[f.series] {
			t.Errorf("cluster status health %s = %d, /metrics %v", f.series, got, metrics.samples[f.series])
		}
	}
	for _, p := range cs.Partitions {
		if p.Health == nil || p.Health.UnderReplicated || p.Health.Leaderless {
			t.Errorf("cluster status %s/%d health %+v, want ok", p.Topic, p.Partition, p.Health)
		}
	}
	csLag := map[string]string{}
	for _, g := range cs.Groups {
		for _, o := range g.Offsets {
			csLag[fmt.Sprintf("%s|%s/%d", g.Name, o.Topic, o.Partition)] = strconv.FormatInt(o.Lag, 10)
		}
	}
	for _, c := range checks {
		if c.cell == "lag" {
			if got, want := csLag[c.row], strconv.FormatInt(int64(metrics.samples[c.series]), 10); got != want {
				t.Errorf("cluster status lag %s = %q, /metrics %s", c.row, got, want)
			}
		}
	}
	out, err = runApp(t, args...)
	if err != nil {
		t.Fatalf("cluster status: %v\n%s", err, out)
	}
	t.Logf("chronik cluster status:\n%s", out)
	for _, re := range []string{`health: 3 partitions led, 0 under-replicated, 0 leaderless, 0 offline replicas`,
		`(?m)^paged-group\s+1\s+Empty\s+0\s+paged\s+0\s+2\s+7\s+5$`,
		`(?m)^paged\s+1\s+1\s+\d+\s+\[1\]\s+3\s+1:0\s+ok\s*$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("cluster status output does not match %s:\n%s", re, out)
		}
	}

	// Headless Chromium: the DOM after the page's refresh script replaced
	// its content (refresh every second, 3.5 s of virtual time), then a
	// screenshot.
	bin := chromiumPath(t)
	dom := runChromium(t, bin, 20*time.Second, "--dump-dom", "--virtual-time-budget=3500", hs.URL+"/ui?refresh=1")
	pt := parsePage(t, dom)
	if n, _ := strconv.Atoi(pt.refreshes); n < 1 {
		t.Errorf("chromium DOM: data-refreshes=%q: the refresh script did not run or failed (CSP, fetch)", pt.refreshes)
	}
	checkPage("chromium DOM", pt)

	shot := filepath.Join(t.TempDir(), "status.png")
	const w, h = 1280, 1600
	runChromium(t, bin, 20*time.Second, "--screenshot="+shot, fmt.Sprintf("--window-size=%d,%d", w, h), "--hide-scrollbars", hs.URL+"/?refresh=0")
	checkScreenshot(t, shot, w, h)
}

// checkScreenshot decodes the PNG at path: it has the requested size, is
// no flat colour, and has the page's dark header across its top (so the
// stylesheet applied).
func checkScreenshot(t *testing.T, path string, w, h int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Errorf("screenshot is %dx%d, want %dx%d", b.Dx(), b.Dy(), w, h)
	}
	colours := map[[3]uint32]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, bl >> 8}]++
		}
	}
	if len(colours) < 16 {
		t.Errorf("screenshot has %d colours: a blank or flat page", len(colours))
	}
	// The header's background (#1d2433) at its left edge, below the top.
	if !near(img, image.Pt(b.Min.X+4, b.Min.Y+6), 0x1d, 0x24, 0x33) {
		r, g, bl, _ := img.At(b.Min.X+4, b.Min.Y+6).RGBA()
		t.Errorf("screenshot: header pixel is #%02x%02x%02x, want #1d2433", r>>8, g>>8, bl>>8)
	}
	if dst := os.Getenv("CHRONIK_SCREENSHOT_DIR"); dst != "" { // to look at it
		b, _ := os.ReadFile(path)
		os.WriteFile(filepath.Join(dst, "status.png"), b, 0o644)
	}
}

func near(img image.Image, p image.Point, r, g, b uint32) bool {
	pr, pg, pb, _ := img.At(p.X, p.Y).RGBA()
	d := func(a, b uint32) bool { return max(a, b)-min(a, b) <= 6 }
	return d(pr>>8, r) && d(pg>>8, g) && d(pb>>8, b)
}
