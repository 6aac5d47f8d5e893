package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/chronik-io/chronik/bench"
)

// benchCommand is `chronik bench produce|consume|verify|raft`: flag parsing
// only; the load generators, the checker, validation and reports live in
// packages bench and internal/raftbench.
func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "Kafka-protocol load generator and durability checker (against --brokers, or an in-process cluster with --embedded), and the raw Raft ceiling",
		Subcommands: []*cli.Command{
			benchProduceCommand(),
			benchConsumeCommand(),
			benchVerifyCommand(),
			benchRaftCommand(),
		},
	}
}

// benchCommonFlags are shared by produce and consume.
func benchCommonFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "brokers", Value: "127.0.0.1:9092", Usage: "seed brokers, comma-separated host:port"},
		&cli.StringFlag{Name: "topic", Value: "bench", Usage: "topic to use"},
		&cli.DurationFlag{Name: "duration", Usage: "run for this long (with --records, whichever comes first)"},
		&cli.BoolFlag{Name: "json", Usage: "print the report as one JSON object (progress goes to stderr)"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress line"},
		&cli.BoolFlag{Name: "embedded", Usage: "start an in-process chronik cluster and run against it"},
		&cli.IntFlag{Name: "nodes", Value: 1, Usage: "brokers of the --embedded cluster"},
		&cli.StringFlag{Name: "logdb", Usage: "Raft log store of the --embedded brokers: pebble (default) or tan"},
		&cli.StringFlag{Name: "dir", Usage: "data directory of the --embedded cluster, kept so a later run restarts it (default: a temporary directory, removed)"},
		&cli.StringFlag{Name: "log-level", Value: "error", Usage: "log level on stderr: debug, info, warn, error"},
		&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the run (client and --embedded brokers) to this file"},
	}
}

func benchProduceCommand() *cli.Command {
	d := bench.DefaultProduceConfig()
	return &cli.Command{
		Name:  "produce",
		Usage: "produce records and report throughput and latency (enqueue to acknowledgement)",
		Flags: append(benchCommonFlags(),
			&cli.IntFlag{Name: "partitions", Value: int(d.Partitions), Usage: "partitions when the topic is created"},
			&cli.IntFlag{Name: "replication-factor", Usage: "replication factor when the topic is created (0: broker default)"},
			&cli.StringFlag{Name: "record-size", Value: strconv.Itoa(d.RecordSize), Usage: "record value size (e.g. 1024, 1KiB, 1MiB)"},
			&cli.Int64Flag{Name: "records", Value: d.Records, Usage: "records to produce (0 with --duration: until the duration)"},
			&cli.StringFlag{Name: "acks", Value: d.Acks, Usage: "all, 1 or 0"},
			&cli.StringFlag{Name: "compression", Value: d.Compression, Usage: "none, gzip, snappy, lz4 or zstd"},
			&cli.DurationFlag{Name: "linger", Value: d.Linger, Usage: "how long a batch waits to fill"},
			&cli.StringFlag{Name: "batch-max-bytes", Value: bench.FormatSize(int64(d.BatchMaxBytes)), Usage: "largest record batch"},
			&cli.IntFlag{Name: "producers", Value: d.Producers, Usage: "concurrent producer clients"},
			&cli.IntFlag{Name: "max-in-flight", Value: d.MaxInFlight, Usage: "produce requests in flight per broker and producer"},
			&cli.Float64Flag{Name: "rate", Usage: "cap on records/s across all producers (0: unlimited)"},
			&cli.StringFlag{Name: "keys", Value: d.Keys, Usage: "record keys: none, random or sequential"},
			&cli.StringFlag{Name: "payload", Value: d.Payload, Usage: "record values: random (incompressible) or text"},
			&cli.BoolFlag{Name: "idempotent", Usage: "use the idempotent producer (requires --acks all)"},
			&cli.DurationFlag{Name: "warmup", Usage: "produce this long first, excluded from the figures"},
			&cli.DurationFlag{Name: "delivery-timeout", Value: d.DeliveryTimeout, Usage: "a record not acknowledged within this counts as failed"},
		),
		Action: func(c *cli.Context) error {
			cfg := bench.DefaultProduceConfig()
			cfg.Brokers = splitList(c.String("brokers"))
			cfg.Topic = c.String("topic")
			parts, err := rangeFlag(c, "partitions", 1<<31-1)
			if err != nil {
				return err
			}
			rf, err := rangeFlag(c, "replication-factor", 1<<15-1)
			if err != nil {
				return err
			}
			cfg.Partitions, cfg.ReplicationFactor = int32(parts), int16(rf)
			cfg.Records = c.Int64("records")
			if c.IsSet("duration") && !c.IsSet("records") {
				cfg.Records = 0
			}
			cfg.Duration = c.Duration("duration")
			cfg.Acks = c.String("acks")
			cfg.Compression = c.String("compression")
			cfg.Linger = c.Duration("linger")
			cfg.Producers = c.Int("producers")
			cfg.MaxInFlight = c.Int("max-in-flight")
			cfg.Rate = c.Float64("rate")
			cfg.Keys = c.String("keys")
			cfg.Payload = c.String("payload")
			cfg.Idempotent = c.Bool("idempotent")
			cfg.Warmup = c.Duration("warmup")
			cfg.DeliveryTimeout = c.Duration("delivery-timeout")
			size, err := sizeFlag(c, "record-size")
			if err != nil {
				return err
			}
			cfg.RecordSize = int(min(size, bench.MaxRecordSize+1))
			batch, err := sizeFlag(c, "batch-max-bytes")
			if err != nil {
				return err
			}
			cfg.BatchMaxBytes = int32(min(batch, bench.MaxBatchMaxBytes+1))

			env, err := newBenchEnv(c)
			if err != nil {
				return err
			}
			cfg.Progress, cfg.Logger = env.progress, env.log
			if err := cfg.Validate(); err != nil {
				return err
			}
			return env.run(func(ctx context.Context, brokers []string) (bench.Result, error) {
				if brokers != nil {
					cfg.Brokers = brokers
				}
				return bench.Produce(ctx, cfg)
			})
		},
	}
}

func benchConsumeCommand() *cli.Command {
	d := bench.DefaultConsumeConfig()
	return &cli.Command{
		Name:  "consume",
		Usage: "consume a topic from the start and report throughput and end-to-end latency",
		Flags: append(benchCommonFlags(),
			&cli.StringFlag{Name: "group", Usage: "consume as this consumer group (default: read partitions directly)"},
			&cli.StringFlag{Name: "share-group", Usage: "consume as a member of this share group (KIP-932), accepting every record; sets its share.auto.offset.reset to earliest"},
			&cli.Int64Flag{Name: "records", Value: d.Records, Usage: "records to consume (0 with --duration: until the duration)"},
			&cli.StringFlag{Name: "fetch-max-bytes", Value: bench.FormatSize(int64(d.FetchMaxBytes)), Usage: "largest fetch response"},
			&cli.DurationFlag{Name: "idle-timeout", Value: d.IdleTimeout, Usage: "stop when no record arrives for this long"},
		),
		Action: func(c *cli.Context) error {
			cfg := bench.DefaultConsumeConfig()
			cfg.Brokers = splitList(c.String("brokers"))
			cfg.Topic = c.String("topic")
			cfg.Group = c.String("group")
			cfg.ShareGroup = c.String("share-group")
			cfg.Records = c.Int64("records")
			if c.IsSet("duration") && !c.IsSet("records") {
				cfg.Records = 0
			}
			cfg.Duration = c.Duration("duration")
			cfg.IdleTimeout = c.Duration("idle-timeout")
			fetch, err := sizeFlag(c, "fetch-max-bytes")
			if err != nil {
				return err
			}
			cfg.FetchMaxBytes = int32(min(fetch, 1<<31-1))

			env, err := newBenchEnv(c)
			if err != nil {
				return err
			}
			cfg.Progress, cfg.Logger = env.progress, env.log
			if err := cfg.Validate(); err != nil {
				return err
			}
			return env.run(func(ctx context.Context, brokers []string) (bench.Result, error) {
				if brokers != nil {
					cfg.Brokers = brokers
				}
				return bench.Consume(ctx, cfg)
			})
		},
	}
}

// benchEnv is the wiring shared by produce, consume and verify: output, progress,
// logging and the optional embedded cluster.
type benchEnv struct {
	c        *cli.Context
	out      io.Writer
	json     bool
	progress func(bench.Progress)
	log      *slog.Logger
	level    *slog.LevelVar
	embedded *bench.EmbeddedConfig
}

func newBenchEnv(c *cli.Context) (*benchEnv, error) {
	env := &benchEnv{c: c, out: c.App.Writer, json: c.Bool("json")}
	if env.out == nil {
		env.out = os.Stdout
	}
	errOut := c.App.ErrWriter
	if errOut == nil {
		errOut = os.Stderr
	}
	env.level = new(slog.LevelVar)
	if err := env.level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.String("log-level"))
	}
	env.log = slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: env.level}))
	if !c.Bool("quiet") {
		// The report owns stdout with --json; progress then goes to stderr.
		w := env.out
		if env.json {
			w = errOut
		}
		f, isFile := w.(*os.File)
		env.progress = bench.NewProgressWriter(w, isFile && bench.IsTerminal(f))
	}
	if c.Bool("embedded") {
		if c.IsSet("brokers") {
			return nil, fmt.Errorf("--brokers and --embedded exclude each other: --embedded runs against the brokers it starts")
		}
		nodes := c.Int("nodes")
		if !c.IsSet("nodes") && c.IsSet("dir") {
			nodes = 0 // restart whatever the directory holds
		}
		env.embedded = &bench.EmbeddedConfig{Nodes: nodes, Dir: c.String("dir"), LogDB: c.String("logdb"), Logger: env.log}
		if err := env.embedded.Validate(); err != nil {
			return nil, err
		}
	} else if c.IsSet("nodes") || c.IsSet("dir") || c.IsSet("logdb") {
		return nil, fmt.Errorf("--nodes, --dir and --logdb need --embedded")
	}
	return env, nil
}

// run starts the embedded cluster if asked, runs f (with the cluster's
// brokers, or nil to keep --brokers) until done or interrupted, and prints
// the report, also for a run that ended with an error after producing
// figures.
func (env *benchEnv) run(f func(ctx context.Context, brokers []string) (bench.Result, error)) error {
	return env.do(func(ctx context.Context, brokers []string) error {
		res, runErr := f(ctx, brokers)
		if res.Kind == "" {
			return runErr // nothing measured: a config or connection error
		}
		if brokers != nil {
			res.Settings["embedded-nodes"] = strconv.Itoa(len(brokers))
		}
		var err error
		if env.json {
			err = bench.WriteJSON(env.out, res)
		} else {
			err = bench.WriteText(env.out, res)
		}
		if runErr != nil {
			return runErr
		}
		return err
	})
}

// do starts the embedded cluster and the CPU profile if asked, and runs f
// with the cluster's brokers (nil to keep --brokers) under a context that
// ends on SIGINT or SIGTERM.
func (env *benchEnv) do(f func(ctx context.Context, brokers []string) error) (err error) {
	ctx, stop := signal.NotifyContext(env.c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var brokers []string
	if env.embedded != nil {
		cl, err := bench.StartEmbedded(ctx, *env.embedded)
		if err != nil {
			return err
		}
		defer func() {
			// Brokers stopping one after another log their lost peers;
			// below debug level that is noise after the report. Close
			// still returns any real error.
			if env.level.Level() > slog.LevelDebug {
				env.level.Set(slog.LevelError + 4)
			}
			if cerr := cl.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}()
		brokers = cl.Brokers()
		env.log.Info("embedded cluster ready", "brokers", strings.Join(brokers, ","), "dir", cl.Dir())
	}
	if path := env.c.String("cpuprofile"); path != "" {
		stopProfile, err := startCPUProfile(path)
		if err != nil {
			return err
		}
		defer func() {
			if perr := stopProfile(); perr != nil && err == nil {
				err = perr
			}
		}()
	}
	return f(ctx, brokers)
}

// startCPUProfile starts profiling into path and returns the function that
// stops it and closes the file.
func startCPUProfile(path string) (func() error, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		return nil
	}, nil
}

// sizeFlag parses a byte-size flag, naming the flag in the error.
func sizeFlag(c *cli.Context, name string) (int64, error) {
	n, err := bench.ParseSize(c.String(name))
	if err != nil {
		return 0, fmt.Errorf("--%s: %w", name, err)
	}
	return n, nil
}

// rangeFlag reads an int flag that must fit in [-limit-1, limit] (the range
// of the narrower type it is stored in); bench validates the value itself.
func rangeFlag(c *cli.Context, name string, limit int) (int, error) {
	v := c.Int(name)
	if v > limit || v < -limit-1 {
		return 0, fmt.Errorf("--%s %d: out of range", name, v)
	}
	return v, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
