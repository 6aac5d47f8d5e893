package cli

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestParsePeers(t *testing.T) {
	cases := []struct {
		in      string
		want    map[uint64]string
		wantErr string
	}{
		{"1@127.0.0.1:7001", map[uint64]string{1: "127.0.0.1:7001"}, ""},
		{"1@h1:7001, 2@h2:7001,3@h3:7001,", map[uint64]string{1: "h1:7001", 2: "h2:7001", 3: "h3:7001"}, ""},
		{"", nil, "empty"},
		{"h1:7001", nil, "want id@host:port"},
		{"0@h1:7001", nil, "id >= 1"},
		{"x@h1:7001", nil, "want id@host:port"},
		{"1@h1", nil, "missing port"},
		{"1@h1:7001,1@h2:7001", nil, "listed twice"},
	}
	for _, tc := range cases {
		got, err := parsePeers(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parsePeers(%q) error %v, want one containing %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("parsePeers(%q): %v", tc.in, err)
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("parsePeers(%q) = %v, want %v", tc.in, got, tc.want)
		}
		for id, a := range tc.want {
			if got[id] != a {
				t.Errorf("parsePeers(%q)[%d] = %q, want %q", tc.in, id, got[id], a)
			}
		}
	}
}

// Bad flags produce one clear error naming the flag, before anything starts.
func TestStartBadFlags(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--log-format", "xml"}, "--log-format"},
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"--peers", "1@h:1", "--node-id", "2"}, "NodeID 2"},
		{[]string{"--default-partitions", "0"}, "--default-partitions"},
		{[]string{"--kafka-addr", "nohost"}, "--kafka-addr"},
		{[]string{"--advertised-kafka-addr", ":9092"}, "--advertised-kafka-addr"},
		{[]string{"extra-arg"}, "no arguments"},
	}
	for _, tc := range cases {
		app := &cli.App{Commands: []*cli.Command{startCommand()}, ExitErrHandler: func(*cli.Context, error) {}}
		app.Writer, app.ErrWriter = &strings.Builder{}, &strings.Builder{}
		err := app.Run(append([]string{"chronik", "start", "--data-dir", t.TempDir()}, tc.args...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("start %v: error %v, want one mentioning %q", tc.args, err, tc.want)
		}
	}
}
