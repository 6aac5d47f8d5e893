package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/urfave/cli/v2"
)

// adminFlags are shared by the topic and cluster commands.
func adminFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "brokers", Value: "127.0.0.1:9092", Usage: "seed Kafka addresses, comma separated", EnvVars: []string{"CHRONIK_BROKERS"}},
		&cli.BoolFlag{Name: "json", Usage: "print JSON instead of a table"},
		&cli.DurationFlag{Name: "timeout", Value: 30 * time.Second, Usage: "give up after this long"},
	}, append(saslClientFlags(), clientTLSFlags()...)...)
}

// newAdmin connects a kadm client to --brokers and returns it with a
// context bounded by --timeout; done cancels the context and closes the
// client.
func newAdmin(c *cli.Context) (*kadm.Client, context.Context, func(), error) {
	cl, ctx, done, err := newAdminKgo(c)
	if err != nil {
		return nil, nil, nil, err
	}
	return kadm.NewClient(cl), ctx, done, nil
}

// newAdminKgo is newAdmin's kgo client, for requests kadm does not wrap.
func newAdminKgo(c *cli.Context) (*kgo.Client, context.Context, func(), error) {
	seeds := splitList(c.String("brokers"))
	if len(seeds) == 0 {
		return nil, nil, nil, errors.New("--brokers is empty")
	}
	auth, err := saslClientOpts(c)
	if err != nil {
		return nil, nil, nil, err
	}
	tlsOpts, err := clientTLSOpts(c)
	if err != nil {
		return nil, nil, nil, err
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.RetryTimeout(c.Duration("timeout"))}, auth...)
	cl, err := kgo.NewClient(append(opts, tlsOpts...)...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("kafka client for %v: %w", seeds, err)
	}
	ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
	return cl, ctx, func() { cancel(); cl.Close() }, nil
}

func topicCommand() *cli.Command {
	return &cli.Command{
		Name:  "topic",
		Usage: "create, list, describe, alter, delete and reassign topics (Kafka protocol, like kafka-topics and kafka-reassign-partitions)",
		Subcommands: []*cli.Command{
			{
				Name: "create", Usage: "create topics", ArgsUsage: "TOPIC...",
				Flags: append(adminFlags(),
					&cli.IntFlag{Name: "partitions", Aliases: []string{"p"}, Value: -1, Usage: "partitions (-1: the broker default)"},
					&cli.IntFlag{Name: "replicas", Aliases: []string{"r"}, Value: -1, Usage: "replication factor (-1: min(3, brokers))"},
					&cli.IntFlag{Name: "parallel", Value: 16, Usage: "topics created at a time (one request each)"},
					&cli.StringSliceFlag{Name: "config", Aliases: []string{"c"}, Usage: "topic config as key=value (repeatable)"},
				),
				Action: runTopicCreate,
			},
			{Name: "list", Usage: "list topics", Flags: adminFlags(), Action: runTopicList},
			{Name: "describe", Usage: "show topics' partitions: leader, epoch, replicas, high watermark", ArgsUsage: "TOPIC...", Flags: adminFlags(), Action: runTopicDescribe},
			{
				Name: "alter", Usage: "change topics' configs, or raise their partition count (existing partitions keep their data)", ArgsUsage: "TOPIC...",
				Flags: append(adminFlags(),
					&cli.IntFlag{Name: "partitions", Aliases: []string{"p"}, Usage: "the new, higher partition count"},
					&cli.StringSliceFlag{Name: "config", Aliases: []string{"c"}, Usage: "set a topic config, key=value (repeatable)"},
					&cli.StringSliceFlag{Name: "delete-config", Usage: "return a topic config to its default (repeatable)"},
				),
				Action: runTopicAlter,
			},
			{Name: "delete", Usage: "delete topics", ArgsUsage: "TOPIC...", Flags: adminFlags(), Action: runTopicDelete},
			topicReassignCommand(), topicReassignmentsCommand(),
		},
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// TopicResult is one line of topic create and delete output.
type TopicResult struct {
	Topic string `json:"topic"`
	Error string `json:"error,omitempty"`
}

func runTopicCreate(c *cli.Context) error {
	if c.NArg() == 0 {
		return errors.New("topic create: name at least one topic")
	}
	configs := map[string]*string{}
	for _, kv := range c.StringSlice("config") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("--config %q: want key=value", kv)
		}
		configs[k] = &v
	}
	adm, ctx, done, err := newAdmin(c)
	if err != nil {
		return err
	}
	defer done()
	// One request per topic, from several clients at a time: a broker
	// answers one connection's admin requests in order and creates each
	// topic only once its partitions have elected leaders, so a long list
	// on one connection would take one election per topic.
	topics := c.Args().Slice()
	resps := make([]kadm.CreateTopicResponse, len(topics))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := range min(max(1, c.Int("parallel")), len(topics)) {
		wadm := adm
		if w > 0 {
			var wdone func()
			if wadm, _, wdone, err = newAdmin(c); err != nil {
				return err
			}
			defer wdone()
		}
		wadm.SetTimeoutMillis(int32(c.Duration("timeout").Milliseconds()))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				name := topics[i]
				rs, err := wadm.CreateTopics(ctx, int32(c.Int("partitions")), int16(c.Int("replicas")), configs, name)
				r, ok := rs[name]
				if err != nil || !ok {
					r = kadm.CreateTopicResponse{Topic: name, Err: fmt.Errorf("create topic: %w", errors.Join(err, ctx.Err()))}
				}
				resps[i] = r
			}
		}()
	}
	for i := range topics {
		next <- i
	}
	close(next)
	wg.Wait()
	return printTopicResults(c, "created", func(yield func(string, error, string) bool) {
		for _, r := range resps {
			if !yield(r.Topic, r.Err, r.ErrMessage) {
				return
			}
		}
	})
}

func runTopicDelete(c *cli.Context) error {
	if c.NArg() == 0 {
		return errors.New("topic delete: name at least one topic")
	}
	adm, ctx, done, err := newAdmin(c)
	if err != nil {
		return err
	}
	defer done()
	resps, err := adm.DeleteTopics(ctx, c.Args().Slice()...)
	if err != nil {
		return fmt.Errorf("delete topics: %w", err)
	}
	return printTopicResults(c, "deleted", func(yield func(string, error, string) bool) {
		for _, r := range resps.Sorted() {
			if !yield(r.Topic, r.Err, r.ErrMessage) {
				return
			}
		}
	})
}

func runTopicAlter(c *cli.Context) error {
	if c.NArg() == 0 {
		return errors.New("topic alter: name at least one topic")
	}
	var alters []kadm.AlterConfig
	for _, kv := range c.StringSlice("config") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("--config %q: want key=value", kv)
		}
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: &v})
	}
	for _, k := range c.StringSlice("delete-config") {
		alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	if len(alters) == 0 && !c.IsSet("partitions") {
		return errors.New("topic alter: give --partitions, --config or --delete-config")
	}
	adm, ctx, done, err := newAdmin(c)
	if err != nil {
		return err
	}
	defer done()
	type outcome struct {
		err error
		msg string
	}
	results := map[string]outcome{}
	if len(alters) > 0 {
		rs, err := adm.AlterTopicConfigs(ctx, alters, c.Args().Slice()...)
		if err != nil {
			return fmt.Errorf("alter topic configs: %w", err)
		}
		for _, r := range rs {
			results[r.Name] = outcome{r.Err, r.ErrMessage}
		}
	}
	if c.IsSet("partitions") {
		rs, err := adm.UpdatePartitions(ctx, c.Int("partitions"), c.Args().Slice()...)
		if err != nil {
			return fmt.Errorf("alter partition counts: %w", err)
		}
		for _, r := range rs.Sorted() {
			if results[r.Topic].err == nil {
				results[r.Topic] = outcome{r.Err, r.ErrMessage}
			}
		}
	}
	return printTopicResults(c, "altered", func(yield func(string, error, string) bool) {
		for _, topic := range slices.Sorted(maps.Keys(results)) {
			if !yield(topic, results[topic].err, results[topic].msg) {
				return
			}
		}
	})
}

// printTopicResults prints per-topic outcomes and fails if any topic failed.
func printTopicResults(c *cli.Context, verb string, each func(func(string, error, string) bool)) error {
	var out []TopicResult
	failed := 0
	each(func(topic string, err error, msg string) bool {
		r := TopicResult{Topic: topic}
		if err != nil {
			r.Error = err.Error()
			if msg != "" {
				r.Error += ": " + msg
			}
			failed++
		}
		out = append(out, r)
		return true
	})
	w := c.App.Writer
	if c.Bool("json") {
		if err := printJSON(w, out); err != nil {
			return err
		}
	} else {
		for _, r := range out {
			if r.Error != "" {
				fmt.Fprintf(w, "%s\tFAILED: %s\n", r.Topic, r.Error)
			} else {
				fmt.Fprintf(w, "%s\t%s\n", r.Topic, verb)
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d topics failed", failed, len(out))
	}
	return nil
}

// TopicSummary is one line of topic list.
type TopicSummary struct {
	Topic             string `json:"topic"`
	ID                string `json:"id"`
	Partitions        int    `json:"partitions"`
	ReplicationFactor int    `json:"replication_factor"`
	Internal          bool   `json:"internal,omitempty"`
}

func runTopicList(c *cli.Context) error {
	adm, ctx, done, err := newAdmin(c)
	if err != nil {
		return err
	}
	defer done()
	tds, err := adm.ListTopicsWithInternal(ctx)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	var out []TopicSummary
	for _, td := range tds.Sorted() {
		s := TopicSummary{Topic: td.Topic, ID: td.ID.String(), Partitions: len(td.Partitions), Internal: td.IsInternal}
		for _, p := range td.Partitions {
			s.ReplicationFactor = len(p.Replicas)
			break
		}
		out = append(out, s)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, out)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITIONS\tREPLICAS\tID")
	for _, s := range out {
		name := s.Topic
		if s.Internal {
			name += " (internal)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", name, s.Partitions, s.ReplicationFactor, s.ID)
	}
	return tw.Flush()
}

// PartitionStatus is one partition as seen through the Kafka protocol.
type PartitionStatus struct {
	Topic         string  `json:"topic"`
	Partition     int32   `json:"partition"`
	Leader        int32   `json:"leader"`
	LeaderEpoch   int32   `json:"leader_epoch"`
	Replicas      []int32 `json:"replicas"`
	HighWatermark int64   `json:"high_watermark"`
	Error         string  `json:"error,omitempty"`
}

// describePartitions reads Metadata and the end offsets of topics (all
// topics when none are named).
func describePartitions(ctx context.Context, adm *kadm.Client, topics ...string) (kadm.Metadata, []PartitionStatus, error) {
	md, err := adm.Metadata(ctx, topics...)
	if err != nil {
		return md, nil, fmt.Errorf("metadata: %w", err)
	}
	names := md.Topics.Names()
	slices.Sort(names)
	// A partition without a leader (just created, or its replicas down)
	// has no end offset to list, and kadm leaves it out of ends with only
	// a request-wide error: such partitions are still described, from
	// Metadata, with that error, as a user checking on a cluster needs.
	var ends kadm.ListedOffsets
	var endsErr error
	if len(names) > 0 {
		ends, endsErr = adm.ListEndOffsets(ctx, names...)
	}
	var out []PartitionStatus
	for _, n := range names {
		td := md.Topics[n]
		if td.Err != nil {
			out = append(out, PartitionStatus{Topic: n, Partition: -1, Leader: -1, Error: td.Err.Error()})
			continue
		}
		for _, p := range td.Partitions.Sorted() {
			ps := PartitionStatus{Topic: n, Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
				Replicas: p.Replicas, HighWatermark: -1}
			if p.Err != nil {
				ps.Error = p.Err.Error()
			}
			if lo, ok := ends.Lookup(n, p.Partition); ok {
				if lo.Err != nil && ps.Error == "" {
					ps.Error = lo.Err.Error()
				} else if lo.Err == nil {
					ps.HighWatermark = lo.Offset
				}
			} else if endsErr != nil && ps.Error == "" {
				ps.Error = fmt.Sprintf("list end offsets: %v", endsErr)
			}
			out = append(out, ps)
		}
	}
	return md, out, nil
}

func runTopicDescribe(c *cli.Context) error {
	if c.NArg() == 0 {
		return errors.New("topic describe: name at least one topic")
	}
	adm, ctx, done, err := newAdmin(c)
	if err != nil {
		return err
	}
	defer done()
	_, parts, err := describePartitions(ctx, adm, c.Args().Slice()...)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, parts)
	}
	return printPartitions(c.App.Writer, parts)
}

func printPartitions(w io.Writer, parts []PartitionStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tLEADER\tEPOCH\tREPLICAS\tHIGH-WATERMARK\tERROR")
	for _, p := range parts {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%v\t%d\t%s\n", p.Topic, p.Partition, p.Leader, p.LeaderEpoch, p.Replicas, p.HighWatermark, p.Error)
	}
	return tw.Flush()
}
