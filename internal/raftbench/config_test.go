package raftbench

import (
	"strings"
	"testing"
	"time"

	"github.com/chronik-io/chronik/internal/raftconf"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want []string // substrings of the error; none for a valid config
	}{
		{"defaults", func(*Config) {}, nil},
		{"zero config", func(c *Config) { *c = Config{} }, nil},
		{"tan", func(c *Config) { c.Raft.LogDB = raftconf.LogDBTan }, nil},
		{"largest", func(c *Config) {
			c.Nodes, c.Shards, c.Payload, c.InFlight = MaxNodes, MaxShards, MaxPayload, MaxInFlight
		}, nil},
		{"nodes", func(c *Config) { c.Nodes = MaxNodes + 1 }, []string{"Nodes 10: must be between 1 and 9"}},
		{"negative nodes", func(c *Config) { c.Nodes = -1 }, []string{"Nodes -1"}},
		{"shards", func(c *Config) { c.Shards = -2 }, []string{"Shards -2"}},
		{"payload", func(c *Config) { c.Payload = MaxPayload + 1 }, []string{"Payload 16777217"}},
		{"inflight", func(c *Config) { c.InFlight = 5000 }, []string{"InFlight 5000"}},
		{"duration", func(c *Config) { c.Duration = -time.Second }, []string{"Duration -1s"}},
		{"warmup", func(c *Config) { c.Warmup = -time.Second }, []string{"Warmup -1s"}},
		{"logdb", func(c *Config) { c.Raft.LogDB = "rocks" }, []string{`Raft.LogDB "rocks": want "pebble", "tan-shared" or "tan"`}},
		{"rtt", func(c *Config) { c.Raft.RTT = time.Microsecond }, []string{"Raft.RTT 1µs"}},
		{"ticks", func(c *Config) { c.Raft.ElectionTicks, c.Raft.HeartbeatTicks = 4, 2 }, []string{"Raft.ElectionTicks 4"}},
		{"proposal timeout", func(c *Config) { c.ProposalTimeout = time.Millisecond }, []string{"ProposalTimeout 1ms: must be at least one Raft tick"}},
		{"all at once", func(c *Config) { c.Nodes, c.Payload, c.Warmup = 0, -1, -time.Second },
			[]string{"Payload -1", "Warmup -1s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate: %v\nwant it to contain %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "raftbench: ") {
				t.Errorf("Validate: %v: want the raftbench: prefix", err)
			}
		})
	}
}

func TestDefaultConfigUsesChroniksRaftSettings(t *testing.T) {
	if got, want := DefaultConfig().Raft, raftconf.DefaultOptions(); got != want {
		t.Fatalf("Raft %+v, want raftconf.DefaultOptions() %+v", got, want)
	}
}
