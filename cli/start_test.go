package cli

import (
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/chronik-io/chronik/kafka"
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
		{[]string{"--offsets-topic-partitions", "0"}, "--offsets-topic-partitions"},
		{[]string{"--offsets-retention", "0s"}, "--offsets-retention"},
		{[]string{"--max-connections", "0"}, "--max-connections"},
		{[]string{"--socket-request-max-bytes", "100"}, "--socket-request-max-bytes"},
		{[]string{"--queued-max-request-bytes", "-1"}, "--queued-max-request-bytes"},
		{[]string{"--bootstrap-user", "admin"}, "--bootstrap-user"},
		{[]string{"--sasl-mechanisms", "GSSAPI"}, "SASL.Mechanisms"},
		{[]string{"--sasl-session-lifetime", "-1s"}, "SASL.SessionLifetime"},
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

// Group flags reach the coordinator's configuration; a zero initial
// rebalance delay means none, not the default.
func TestStartGroupFlags(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		parts     int32
		retention time.Duration
		delay     time.Duration
		session   time.Duration // KIP-848 session timeout
		interval  time.Duration // and heartbeat interval
	}{
		{nil, 16, 7 * 24 * time.Hour, 3 * time.Second, 45 * time.Second, 5 * time.Second},
		{[]string{"--offsets-topic-partitions", "4", "--offsets-retention", "1h", "--group-initial-rebalance-delay", "0s",
			"--group-consumer-session-timeout", "20s", "--group-consumer-heartbeat-interval", "2s"}, 4, time.Hour, -1, 20 * time.Second, 2 * time.Second},
	} {
		cmd := startCommand()
		var sc startConfig
		var perr error
		cmd.Action = func(c *cli.Context) error {
			sc, perr = parseStart(c, slog.New(slog.DiscardHandler))
			return nil
		}
		app := &cli.App{Commands: []*cli.Command{cmd}}
		if err := app.Run(append([]string{"chronik", "start", "--data-dir", t.TempDir()}, tc.args...)); err != nil || perr != nil {
			t.Fatalf("start %v: %v %v", tc.args, err, perr)
		}
		g := sc.kafka.Groups
		if g.OffsetsTopicPartitions != tc.parts || g.OffsetsRetention != tc.retention || g.InitialRebalanceDelay != tc.delay ||
			g.ConsumerSessionTimeout != tc.session || g.ConsumerHeartbeatInterval != tc.interval {
			t.Errorf("start %v: groups config %+v, want %d partitions, retention %s, delay %s, consumer session %s interval %s",
				tc.args, g, tc.parts, tc.retention, tc.delay, tc.session, tc.interval)
		}
	}
}

// Connection and request-size flags reach the Kafka server's configuration.
func TestStartLimitFlags(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		conns  int
		frame  int32
		queued int64
	}{
		{nil, kafka.DefaultMaxConnections, kafka.DefaultMaxFrameBytes, kafka.DefaultQueuedMaxRequestBytes},
		{[]string{"--max-connections", "50", "--socket-request-max-bytes", "1048576", "--queued-max-request-bytes", "8388608"}, 50, 1 << 20, 8 << 20},
	} {
		cmd := startCommand()
		var sc startConfig
		var perr error
		cmd.Action = func(c *cli.Context) error {
			sc, perr = parseStart(c, slog.New(slog.DiscardHandler))
			return nil
		}
		app := &cli.App{Commands: []*cli.Command{cmd}}
		if err := app.Run(append([]string{"chronik", "start", "--data-dir", t.TempDir()}, tc.args...)); err != nil || perr != nil {
			t.Fatalf("start %v: %v %v", tc.args, err, perr)
		}
		k := sc.kafka
		if k.MaxConnections != tc.conns || k.MaxFrameBytes != tc.frame || k.QueuedMaxRequestBytes != tc.queued {
			t.Errorf("start %v: max connections %d, frame %d, queued %d; want %d, %d, %d", tc.args,
				k.MaxConnections, k.MaxFrameBytes, k.QueuedMaxRequestBytes, tc.conns, tc.frame, tc.queued)
		}
	}
}

// Without --peers a broker is a one-node cluster at its own --raft-addr;
// with --peers the list is taken as given.
func TestStartDefaultPeers(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want map[uint64]string
	}{
		{nil, map[uint64]string{1: "127.0.0.1:7001"}},
		{[]string{"--raft-addr", "127.0.0.1:37001"}, map[uint64]string{1: "127.0.0.1:37001"}},
		{[]string{"--node-id", "3", "--raft-addr", "127.0.0.1:37003"}, map[uint64]string{3: "127.0.0.1:37003"}},
		{[]string{"--raft-addr", "127.0.0.1:37001", "--peers", "1@127.0.0.1:37001,2@127.0.0.1:37002"},
			map[uint64]string{1: "127.0.0.1:37001", 2: "127.0.0.1:37002"}},
	} {
		cmd := startCommand()
		var sc startConfig
		var perr error
		cmd.Action = func(c *cli.Context) error {
			sc, perr = parseStart(c, slog.New(slog.DiscardHandler))
			return nil
		}
		app := &cli.App{Commands: []*cli.Command{cmd}}
		if err := app.Run(append([]string{"chronik", "start", "--data-dir", t.TempDir()}, tc.args...)); err != nil || perr != nil {
			t.Fatalf("start %v: %v %v", tc.args, err, perr)
		}
		if !maps.Equal(sc.engine.Peers, tc.want) {
			t.Errorf("start %v: peers %v, want %v", tc.args, sc.engine.Peers, tc.want)
		}
	}
}
