package cli

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/chronik-io/chronik/bench"
	"github.com/chronik-io/chronik/internal/raftbench"
)

// benchRaftCommand is `chronik bench raft`: the raw dragonboat ceiling with
// chronik's Raft settings (package internal/raftbench), flags only.
func benchRaftCommand() *cli.Command {
	d := raftbench.DefaultConfig()
	return &cli.Command{
		Name:  "raft",
		Usage: "raw Raft ceiling: dragonboat alone, with chronik's settings, on in-process NodeHosts",
		Description: "Starts --nodes dragonboat NodeHosts in this process (TCP on 127.0.0.1, LogDB with fsync), " +
			"--shards shards replicated on all of them with a state machine that only counts, spreads the shard " +
			"leaders over the nodes and keeps --inflight proposals of --payload bytes outstanding per shard. " +
			"Reports proposals/s, MB/s, latency (propose to applied on the leader) and CPU: the ceiling that " +
			"`bench produce --embedded` can be compared with.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "nodes", Value: d.Nodes, Usage: "NodeHosts, each with a replica of every shard"},
			&cli.IntFlag{Name: "shards", Value: d.Shards, Usage: "Raft shards (groups)"},
			&cli.StringFlag{Name: "payload", Value: bench.FormatSize(int64(d.Payload)), Usage: "bytes per proposal, one Raft entry (e.g. 1024, 64KiB, 1MiB)"},
			&cli.IntFlag{Name: "inflight", Value: d.InFlight, Usage: "proposals outstanding per shard on its leader"},
			&cli.DurationFlag{Name: "duration", Value: d.Duration, Usage: "length of the measured phase"},
			&cli.DurationFlag{Name: "warmup", Value: d.Warmup, Usage: "load this long first, excluded from the figures"},
			&cli.StringFlag{Name: "logdb", Value: d.Raft.LogDB, Usage: "Raft log store: pebble or tan (the default is chronik's), or tan-shared (dragonboat's multiplexed tan, a yardstick brokers cannot use)"},
			&cli.DurationFlag{Name: "raft-tick", Value: d.Raft.RTT, Usage: "Raft tick (chronik start --raft-tick)"},
			&cli.Uint64Flag{Name: "raft-election-ticks", Value: d.Raft.ElectionTicks, Usage: "election timeout in ticks (chronik start --raft-election-ticks)"},
			&cli.Uint64Flag{Name: "raft-heartbeat-ticks", Value: d.Raft.HeartbeatTicks, Usage: "heartbeat interval in ticks (chronik start --raft-heartbeat-ticks)"},
			&cli.BoolFlag{Name: "idle", Usage: "no load: after --warmup, measure the CPU per node and heap per replica of --shards idle shards over --duration"},
			&cli.BoolFlag{Name: "quiesce", Usage: "dragonboat's experimental quiesce mode on every replica (brokers do not use it); with --idle, a --warmup over ten election timeouts measures quiesced replicas"},
			&cli.StringFlag{Name: "dir", Usage: "data directory, created empty and kept (default: a temporary directory, removed)"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as one JSON object (progress goes to stderr)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress line"},
		},
		Action: func(c *cli.Context) error {
			cfg := raftbench.DefaultConfig()
			cfg.Nodes = c.Int("nodes")
			cfg.Shards = c.Int("shards")
			cfg.InFlight = c.Int("inflight")
			cfg.Duration = c.Duration("duration")
			cfg.Warmup = c.Duration("warmup")
			cfg.Raft.LogDB = c.String("logdb")
			cfg.Raft.RTT = c.Duration("raft-tick")
			cfg.Raft.ElectionTicks, cfg.Raft.HeartbeatTicks = c.Uint64("raft-election-ticks"), c.Uint64("raft-heartbeat-ticks")
			cfg.Dir = c.String("dir")
			cfg.Idle, cfg.Quiesce = c.Bool("idle"), c.Bool("quiesce")
			payload, err := sizeFlag(c, "payload")
			if err != nil {
				return err
			}
			cfg.Payload = int(min(payload, raftbench.MaxPayload+1))

			out, errOut := c.App.Writer, c.App.ErrWriter
			if out == nil {
				out = os.Stdout
			}
			if errOut == nil {
				errOut = os.Stderr
			}
			cfg.Logger = slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
			if !c.Bool("quiet") {
				// The report owns stdout with --json; progress then goes to stderr.
				w := out
				if c.Bool("json") {
					w = errOut
				}
				f, isFile := w.(*os.File)
				cfg.Progress = raftbench.NewProgressWriter(w, isFile && bench.IsTerminal(f))
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := raftbench.Run(ctx, cfg)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return raftbench.WriteJSON(out, res)
			}
			return raftbench.WriteText(out, res)
		},
	}
}
