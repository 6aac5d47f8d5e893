package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/chronik-io/chronik/bench"
)

// errVerifyFailed is wrapped by the error bench verify returns when the
// check ran and failed, as opposed to not being able to run.
var errVerifyFailed = errors.New("bench verify: FAILED")

// benchVerifyCommand is `chronik bench verify`: flags only; the producers,
// read-back, checks and report are bench.Verify's.
func benchVerifyCommand() *cli.Command {
	d := bench.DefaultVerifyConfig()
	return &cli.Command{
		Name:  "verify",
		Usage: "produce numbered records, read every partition back and prove no acknowledged record was lost",
		Description: "Producers send unique, numbered, checksummed records (acks=all, idempotent unless --idempotent=false) " +
			"round robin over the partitions for --duration at --rate. Then every partition is read back --read-passes " +
			"times, each time from whichever broker leads it, up to its high watermark. The report lists per partition " +
			"acknowledged records lost, duplicates, reorders, inconsistencies (an acknowledged offset holding another " +
			"record, one offset holding two records across reads, records vanishing or landing in another partition), " +
			"corrupt records, unacknowledged records present (allowed) and the longest time the partition took no write. " +
			"With --transactional every producer sends its records in transactions of --txn-records, aborts every " +
			"--abort-every-th on purpose after writing it, and the read-back is read_committed: the check then also fails " +
			"on any record of an aborted transaction read, and on a transaction whose commit went unanswered read only in " +
			"part; records of committed transactions must be read exactly once. " +
			"Exits 0 only when the check passed, 1 otherwise.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "brokers", Value: "127.0.0.1:9092", Usage: "seed brokers, comma-separated host:port"},
			&cli.StringFlag{Name: "topic", Value: d.Topic, Usage: "topic to use; created when missing, earlier records in it are skipped"},
			&cli.DurationFlag{Name: "duration", Value: d.Duration, Usage: "how long to produce"},
			&cli.IntFlag{Name: "partitions", Value: int(d.Partitions), Usage: "partitions when the topic is created"},
			&cli.IntFlag{Name: "replication-factor", Usage: "replication factor when the topic is created (0: broker default)"},
			&cli.IntFlag{Name: "producers", Value: d.Producers, Usage: "concurrent producer clients"},
			&cli.Float64Flag{Name: "rate", Value: d.Rate, Usage: "records/s across all producers (0: as fast as acknowledgements allow)"},
			&cli.StringFlag{Name: "record-size", Value: strconv.Itoa(d.RecordSize), Usage: "record value size (e.g. 256, 1KiB); each key adds 40 bytes"},
			&cli.BoolFlag{Name: "idempotent", Value: d.Idempotent, Usage: "idempotent producers; --idempotent=false retries plainly (duplicates and reorders are then allowed)"},
			&cli.BoolFlag{Name: "transactional", Usage: "transactional producers (one transactional id each) and a read_committed read-back: check exactly once"},
			&cli.IntFlag{Name: "txn-records", Value: d.TxnRecords, Usage: "records per transaction with --transactional"},
			&cli.IntFlag{Name: "abort-every", Value: d.AbortEvery, Usage: "with --transactional, abort every Nth transaction on purpose (0: never)"},
			&cli.DurationFlag{Name: "delivery-timeout", Value: d.DeliveryTimeout, Usage: "a record not answered within this counts as unknown"},
			&cli.IntFlag{Name: "read-passes", Value: d.ReadPasses, Usage: "times every partition is read back; the passes must agree"},
			&cli.DurationFlag{Name: "read-timeout", Value: d.ReadTimeout, Usage: "bound on each read-back pass; a partition not read to its end fails the check"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as one JSON object (progress goes to stderr)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress line"},
			&cli.BoolFlag{Name: "embedded", Usage: "start an in-process chronik cluster and check it"},
			&cli.IntFlag{Name: "nodes", Value: 1, Usage: "brokers of the --embedded cluster"},
			&cli.StringFlag{Name: "logdb", Usage: "Raft log store of the --embedded brokers: pebble (default) or tan"},
			&cli.StringFlag{Name: "dir", Usage: "data directory of the --embedded cluster, kept (default: a temporary directory, removed)"},
			&cli.StringFlag{Name: "log-level", Value: "error", Usage: "log level on stderr: debug, info, warn, error"},
		},
		Action: func(c *cli.Context) error {
			cfg := bench.DefaultVerifyConfig()
			cfg.Brokers = splitList(c.String("brokers"))
			cfg.Topic = c.String("topic")
			cfg.Duration = c.Duration("duration")
			parts, err := rangeFlag(c, "partitions", 1<<31-1)
			if err != nil {
				return err
			}
			rf, err := rangeFlag(c, "replication-factor", 1<<15-1)
			if err != nil {
				return err
			}
			cfg.Partitions, cfg.ReplicationFactor = int32(parts), int16(rf)
			cfg.Producers = c.Int("producers")
			cfg.Rate = c.Float64("rate")
			size, err := sizeFlag(c, "record-size")
			if err != nil {
				return err
			}
			cfg.RecordSize = int(min(size, bench.MaxRecordSize+1))
			cfg.Idempotent = c.Bool("idempotent")
			cfg.Transactional = c.Bool("transactional")
			cfg.TxnRecords = c.Int("txn-records")
			cfg.AbortEvery = c.Int("abort-every")
			cfg.DeliveryTimeout = c.Duration("delivery-timeout")
			cfg.ReadPasses = c.Int("read-passes")
			cfg.ReadTimeout = c.Duration("read-timeout")

			env, err := newBenchEnv(c)
			if err != nil {
				return err
			}
			cfg.Progress, cfg.Logger = env.progress, env.log
			if err := cfg.Validate(); err != nil {
				return err
			}
			return env.do(func(ctx context.Context, brokers []string) error {
				if brokers != nil {
					cfg.Brokers = brokers
				}
				res, err := bench.Verify(ctx, cfg)
				if err != nil {
					return err
				}
				if brokers != nil {
					res.Settings["embedded-nodes"] = strconv.Itoa(len(brokers))
				}
				if env.json {
					err = bench.WriteVerifyJSON(env.out, res)
				} else {
					err = bench.WriteVerifyText(env.out, res)
				}
				if err != nil {
					return err
				}
				if p := res.Problems(); len(p) > 0 {
					return fmt.Errorf("%w: %s", errVerifyFailed, strings.Join(p, "; "))
				}
				return nil
			})
		},
	}
}
