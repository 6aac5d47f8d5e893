package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func sampleResult() Result {
	r := Result{
		Kind:     "produce",
		Settings: map[string]string{"acks": "all", "record-size": "1024"},
		Elapsed:  2 * time.Second,
		Sent:     2_000_000, Acked: 1_999_990, Failed: 10,
		Bytes:       1_999_990 * 1024,
		Latency:     Latency{Count: 1_999_990, Min: 0.5, Mean: 2, P50: 1.5, P90: 3, P99: 12.5, P999: 40, Max: 120},
		LatencyKind: "enqueue to ack",
		Errors:      []ErrorCount{{Error: "REQUEST_TIMED_OUT", Count: 10}},
	}
	r.finish(r.Acked)
	return r
}

func TestResultFinish(t *testing.T) {
	r := sampleResult()
	if r.RecordsPerSec != 999_995 {
		t.Errorf("records/s %v, want 999995", r.RecordsPerSec)
	}
	if want := 1_999_990 * 1024.0 / (1 << 20) / 2; r.MiBPerSec != want {
		t.Errorf("MiB/s %v, want %v", r.MiBPerSec, want)
	}
	if r.ElapsedSeconds != 2 {
		t.Errorf("elapsed_s %v, want 2", r.ElapsedSeconds)
	}
	var zero Result
	zero.finish(0)
	if zero.RecordsPerSec != 0 || zero.MiBPerSec != 0 {
		t.Errorf("zero elapsed must give zero rates, got %+v", zero)
	}
}

func TestWriteJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, sampleResult()); err != nil {
		t.Fatal(err)
	}
	if strings.Count(buf.String(), "\n") != 1 {
		t.Errorf("want one line of JSON, got %q", buf.String())
	}
	var back Result
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	want := sampleResult()
	want.Elapsed = 0 // not in JSON; ElapsedSeconds is
	want.Started = back.Started
	if back.Acked != want.Acked || back.Failed != 10 || back.Latency != want.Latency ||
		back.ElapsedSeconds != 2 || back.Settings["acks"] != "all" || len(back.Errors) != 1 {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, want)
	}
	var raw map[string]any
	_ = json.Unmarshal(buf.Bytes(), &raw)
	for _, k := range []string{"records_per_sec", "mib_per_sec", "latency", "settings", "sent", "acked", "failed"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, buf.String())
		}
	}
}

func TestWriteText(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteText(&buf, sampleResult()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"2,000,000 records sent, 1,999,990 acknowledged, 10 failed in 2s",
		"999,995 records/s, 976.56 MiB/s",
		"p50 1.500  p90 3.000  p99 12.50  p99.9 40.00  max 120.0",
		"error: 10 x REQUEST_TIMED_OUT",
		"settings: acks=all record-size=1024",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestCommas(t *testing.T) {
	for in, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567", 100000: "100,000"} {
		if got := commas(in); got != want {
			t.Errorf("commas(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestProgressLine(t *testing.T) {
	for _, tc := range []struct {
		name     string
		p        Progress
		fraction float64
		want     []string
	}{
		{"by count", Progress{Kind: "produce", Elapsed: 10 * time.Second, Records: 250_000, TargetRecords: 1_000_000, RecordsPerSec: 25_000, P99: 3.25},
			0.25, []string{"[=====>", " 25%", "250,000 rec", "25,000 rec/s", "p99 3.250ms", "ETA 30s"}},
		{"no latency yet", Progress{Kind: "produce", Elapsed: time.Second, TargetRecords: 10},
			0, []string{"p99 -", "0 rec/s"}},
		{"by time", Progress{Kind: "produce", Elapsed: 15 * time.Second, TargetDuration: 30 * time.Second},
			0.5, []string{" 50%", "ETA 15s"}},
		{"warm-up", Progress{Kind: "produce", Warmup: true, Elapsed: 2 * time.Second, TargetRecords: 10},
			-1, []string{"warm-up"}},
		{"done", Progress{Kind: "consume", Done: true, Elapsed: time.Second, Records: 10, TargetRecords: 10},
			1, []string{"100%", "done"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if f := tc.p.Fraction(); f != tc.fraction {
				t.Errorf("Fraction() = %v, want %v", f, tc.fraction)
			}
			line := tc.p.Line(20)
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("line %q lacks %q", line, w)
				}
			}
		})
	}
}

func TestProgressWriter(t *testing.T) {
	var buf bytes.Buffer
	plain := NewProgressWriter(&buf, false)
	plain(Progress{Kind: "produce", Records: 1})
	plain(Progress{Kind: "produce", Records: 2, Done: true})
	if got := strings.Count(buf.String(), "\n"); got != 2 || strings.Contains(buf.String(), "\r") {
		t.Errorf("plain output %q: want 2 lines without carriage returns", buf.String())
	}
	buf.Reset()
	live := NewProgressWriter(&buf, true)
	live(Progress{Kind: "produce", Records: 1, TargetRecords: 2})
	live(Progress{Kind: "produce", Records: 2, TargetRecords: 2, Done: true})
	out := buf.String()
	if strings.Count(out, "\r") != 2 || strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Errorf("live output %q: want lines redrawn with \\r and one final newline", out)
	}
}
