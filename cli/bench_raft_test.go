package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/chronik-io/chronik/internal/raftbench"
)

func TestBenchRaftFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad size", []string{"--payload", "1.5MiB"}, `--payload: size "1.5MiB"`},
		{"payload over max", []string{"--payload", "1GiB"}, "Payload 16777217"},
		{"nodes", []string{"--nodes", "10"}, "Nodes 10: must be between 1 and 9"},
		{"logdb", []string{"--logdb", "rocks"}, `Raft.LogDB "rocks"`},
		{"two at once", []string{"--inflight", "-1", "--warmup", "-1s"}, "InFlight -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runApp(t, append([]string{"bench", "raft", "-q"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestBenchRaft runs `chronik bench raft` on one and on three nodes, for
// half a second each, and reads its JSON and text reports.
func TestBenchRaft(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dragonboat NodeHosts")
	}
	out, err := runApp(t, "bench", "raft", "--nodes", "3", "--shards", "2", "--payload", "4KiB", "--inflight", "2",
		"--duration", "500ms", "--warmup", "0s", "--logdb", "tan", "--json", "-q")
	if err != nil {
		t.Fatalf("bench raft: %v\n%s", err, out)
	}
	var r raftbench.Result
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("JSON: %v\n%s", err, out)
	}
	if r.Proposals <= 0 || r.Failed != 0 || r.Bytes != r.Proposals*4096 {
		t.Fatalf("proposals %d, failed %d, bytes %d: %v", r.Proposals, r.Failed, r.Bytes, r.Errors)
	}
	if r.Settings["logdb"] != "tan" || r.Settings["payload"] != "4KiB" || r.Settings["nodes"] != "3" {
		t.Errorf("settings %v", r.Settings)
	}
	if len(r.Leaders) != 3 || r.Leaders[0] != 1 || r.Leaders[1] != 1 {
		t.Errorf("leaders %v: want shards 1 and 2 led by nodes 1 and 2", r.Leaders)
	}

	text, err := runApp(t, "bench", "raft", "--nodes", "1", "--shards", "1", "--payload", "1KiB", "--inflight", "1",
		"--duration", "300ms", "--warmup", "0s")
	if err != nil || !strings.Contains(text, " proposals applied, 0 failed in ") || !strings.Contains(text, "raft    ") {
		t.Errorf("text report and progress: err %v\n%s", err, text)
	}
}
