package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/urfave/cli/v2"
)

// topicReassignCommand is `chronik topic reassign`: AlterPartitionReassignments
// for one partition (see docs/CLUSTER.md, "Reassigning partitions").
func topicReassignCommand() *cli.Command {
	return &cli.Command{
		Name:      "reassign",
		Usage:     "move a partition's replicas onto other brokers, or cancel a move in progress",
		ArgsUsage: "TOPIC",
		Flags: append(adminFlags(),
			&cli.IntFlag{Name: "partition", Aliases: []string{"p"}, Value: -1, Usage: "the partition to move (required)"},
			&cli.StringFlag{Name: "replicas", Aliases: []string{"r"}, Usage: "target broker ids, comma separated; the first becomes the preferred leader"},
			&cli.BoolFlag{Name: "cancel", Usage: "cancel the partition's reassignment in progress (it moves back onto its original brokers)"},
			&cli.BoolFlag{Name: "wait", Usage: "wait (within --timeout) until the reassignment is done"},
		),
		Action: runTopicReassign,
	}
}

// topicReassignmentsCommand is `chronik topic reassignments`:
// ListPartitionReassignments.
func topicReassignmentsCommand() *cli.Command {
	return &cli.Command{
		Name:      "reassignments",
		Usage:     "list partition reassignments in progress (all topics, or the ones named)",
		ArgsUsage: "[TOPIC...]",
		Flags:     adminFlags(),
		Action:    runTopicReassignments,
	}
}

// parseBrokerIDs parses a comma separated list of broker ids.
func parseBrokerIDs(s string) ([]int32, error) {
	var out []int32
	for _, f := range splitList(s) {
		id, err := strconv.ParseInt(f, 10, 32)
		if err != nil || id <= 0 {
			return nil, fmt.Errorf("--replicas: %q is not a broker id", f)
		}
		out = append(out, int32(id))
	}
	if len(out) == 0 {
		return nil, errors.New("--replicas: no broker ids")
	}
	return out, nil
}

func runTopicReassign(c *cli.Context) error {
	if c.NArg() != 1 {
		return errors.New("topic reassign: name one topic")
	}
	topic := c.Args().First()
	p := c.Int("partition")
	if p < 0 {
		return errors.New("topic reassign: --partition is required")
	}
	var brokers []int32
	switch {
	case c.Bool("cancel") && c.IsSet("replicas"):
		return errors.New("topic reassign: --replicas and --cancel exclude each other")
	case c.Bool("cancel"):
	default:
		var err error
		if brokers, err = parseBrokerIDs(c.String("replicas")); err != nil {
			return fmt.Errorf("topic reassign: %w", err)
		}
	}
	adm, ctx, done, err := newAdmin(c)
	if err != nil {
		return err
	}
	defer done()
	req := kadm.AlterPartitionAssignmentsReq{}
	if brokers == nil {
		req.CancelAssign(topic, int32(p))
	} else {
		req.Assign(topic, int32(p), brokers)
	}
	rs, err := adm.AlterPartitionAssignments(ctx, req)
	if err != nil {
		return fmt.Errorf("reassign %s/%d: %w", topic, p, err)
	}
	r, ok := rs[topic][int32(p)]
	if !ok {
		return fmt.Errorf("reassign %s/%d: no answer for the partition", topic, p)
	}
	if r.Err != nil {
		if r.ErrMessage != "" {
			return fmt.Errorf("reassign %s/%d: %w: %s", topic, p, r.Err, r.ErrMessage)
		}
		return fmt.Errorf("reassign %s/%d: %w", topic, p, r.Err)
	}
	verb := fmt.Sprintf("reassignment of %s/%d to %v accepted", topic, p, brokers)
	if brokers == nil {
		verb = fmt.Sprintf("reassignment of %s/%d cancelled", topic, p)
	}
	if !c.Bool("wait") {
		fmt.Fprintln(c.App.Writer, verb)
		return nil
	}
	start := time.Now()
	if err := waitReassigned(ctx, adm, topic, int32(p)); err != nil {
		return fmt.Errorf("%s, but: %w", verb, err)
	}
	fmt.Fprintf(c.App.Writer, "%s; done in %v\n", verb, time.Since(start).Round(time.Millisecond))
	return nil
}

// waitReassigned polls until the partition has no reassignment in progress.
func waitReassigned(ctx context.Context, adm *kadm.Client, topic string, p int32) error {
	for {
		ls, err := adm.ListPartitionReassignments(ctx, kadm.TopicsSet{topic: {p: {}}})
		if err == nil {
			if _, moving := ls[topic][p]; !moving {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still moving: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Reassignment is one partition reassignment in progress, as printed by
// `chronik topic reassignments --json`.
type Reassignment struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Replicas  []int32 `json:"replicas"`
	Adding    []int32 `json:"adding"`
	Removing  []int32 `json:"removing"`
}

func runTopicReassignments(c *cli.Context) error {
	adm, ctx, done, err := newAdmin(c)
	if err != nil {
		return err
	}
	defer done()
	td, err := adm.ListTopics(ctx, c.Args().Slice()...)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	set := kadm.TopicsSet{}
	for name, t := range td {
		if t.Err != nil {
			return fmt.Errorf("topic %s: %w", name, t.Err)
		}
		for p := range t.Partitions {
			set.Add(name, p)
		}
	}
	ls, err := adm.ListPartitionReassignments(ctx, set)
	if err != nil {
		return fmt.Errorf("list partition reassignments: %w", err)
	}
	out := []Reassignment{}
	for _, r := range ls.Sorted() {
		out = append(out, Reassignment{Topic: r.Topic, Partition: r.Partition, Replicas: r.Replicas, Adding: r.AddingReplicas, Removing: r.RemovingReplicas})
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, out)
	}
	return printReassignments(c.App.Writer, out)
}

func printReassignments(w io.Writer, rs []Reassignment) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tREPLICAS\tADDING\tREMOVING")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%d\t%v\t%v\t%v\n", r.Topic, r.Partition, r.Replicas, r.Adding, r.Removing)
	}
	return tw.Flush()
}
