package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func sampleVerifyResult() VerifyResult {
	p0 := VerifyPartition{Partition: 0, Complete: true, StartOffset: 0, EndOffset: 10, Leaders: []int32{1, 2},
		LongestStall: 1500 * time.Millisecond,
		VerifyCounts: VerifyCounts{Sent: 10, Acked: 9, Unknown: 1, Read: 9, Lost: 1, Duplicated: 1}}
	p1 := VerifyPartition{Partition: 1, Complete: false, StartOffset: 5, EndOffset: 7, Leaders: []int32{-1, 3},
		LongestStall: 12 * time.Second, StallStart: 3 * time.Second,
		VerifyCounts: VerifyCounts{Sent: 10, Acked: 10, Read: 8, Unverified: 2}}
	r := VerifyResult{
		Run: "00000000000000ff", Idempotent: false, Load: 10 * time.Second, ReadBack: time.Second, ReadPasses: 2,
		Partitions: []VerifyPartition{p0, p1}, LongestStall: 12 * time.Second,
		Findings:      []Finding{{Kind: "lost", Partition: 0, Offset: 4, Producer: 0, Seq: 8, Detail: "acknowledged at this offset, not found"}},
		ProduceErrors: []ErrorCount{{Error: "records have timed out", Count: 1}},
		Settings:      map[string]string{"topic": "verify"},
	}
	r.Totals.add(p0.VerifyCounts)
	r.Totals.add(p1.VerifyCounts)
	return r
}

func TestWriteVerifyText(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteVerifyText(&buf, sampleVerifyResult()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"verify: 20 records sent, 19 acknowledged, 0 failed, 1 unknown in 10s; read back 2 times in 1s",
		"result: FAILED: 1 acknowledged records lost; 2 acknowledged records unverified",
		"partitions [1] not read up to their high watermark",
		"duplicated 1, reordered 0 (allowed: producers not idempotent)",
		"longest write stall: 12.00s (partition 1, from 3.0s into the load)",
		"1.50s",
		"5-7 (incomplete)",
		"1,2\n", "-,3\n",
		"finding: lost: partition 0 offset 4 producer 0 seq 8: acknowledged at this offset, not found",
		"finding: ... 3 more not listed",
		"produce error: 1 x records have timed out",
		"settings: run=00000000000000ff topic=verify",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "duplicated records from idempotent") {
		t.Errorf("duplicates of plain retries reported as a failure:\n%s", out)
	}
	for i, line := range strings.Split(out, "\n") {
		if strings.HasSuffix(line, " ") {
			t.Errorf("line %d has trailing spaces: %q", i+1, line)
		}
	}
}

func TestWriteVerifyJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteVerifyJSON(&buf, sampleVerifyResult()); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("JSON does not parse: %v\n%s", err, buf.String())
	}
	if m["ok"] != false || len(m["problems"].([]any)) != 3 {
		t.Errorf("ok %v problems %v: want false and three problems", m["ok"], m["problems"])
	}
	totals := m["totals"].(map[string]any)
	if totals["lost"] != 1.0 || totals["unverified"] != 2.0 || m["longest_stall_ms"] != 12000.0 {
		t.Errorf("totals %v, longest stall %v", totals, m["longest_stall_ms"])
	}
	parts := m["partitions"].([]any)
	if p1 := parts[1].(map[string]any); p1["complete"] != false || p1["longest_stall_ms"] != 12000.0 || p1["sent"] != 10.0 {
		t.Errorf("partition 1 %v", p1)
	}
}
