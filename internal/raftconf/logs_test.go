package raftconf

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestRouteLogsLevels checks the levels dragonboat's warnings arrive at:
// config warnings at WARN, the election-to-heartbeat ratio warning that
// chronik's defaults trigger at DEBUG, and raft's at INFO.
func TestRouteLogsLevels(t *testing.T) {
	var buf bytes.Buffer
	defer RouteLogs(RouteLogs(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))))

	// Validate warns once about this ratio (chronik's defaults).
	rc := Replica(1, 1, Options{ElectionTicks: 10, HeartbeatTicks: 2})
	if err := rc.Validate(); err != nil {
		t.Fatal(err)
	}
	(&slogAdapter{pkg: "config"}).Warningf("mutual TLS disabled")
	(&slogAdapter{pkg: "raft"}).Warningf("campaign")
	out := buf.String()
	for _, want := range []string{
		`level=DEBUG msg="` + electionRatioWarning + `" component=dragonboat/config`,
		`level=WARN msg="mutual TLS disabled" component=dragonboat/config`,
		`level=INFO msg=campaign component=dragonboat/raft`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}
