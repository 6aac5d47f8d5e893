package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/urfave/cli/v2"

	"github.com/chronik-io/chronik/internal/rebalance"
)

// clusterRebalanceCommand is `chronik cluster rebalance`: plans moves that
// even out replicas and preferred leaders (internal/rebalance) and carries
// them out with AlterPartitionReassignments, as an admin client.
func clusterRebalanceCommand() *cli.Command {
	return &cli.Command{
		Name:      "rebalance",
		Usage:     "spread partition replicas and preferred leaders evenly over the brokers",
		ArgsUsage: "[TOPIC...]",
		Description: `Reads the brokers (with their racks) and the partitions' replicas from
Metadata, plans the fewest partition moves that even out the brokers' replica
counts (--by bytes: their partition sizes, from DescribeLogDirs) and then
their preferred leaderships (the first replica), never placing two replicas
of a partition on one broker nor in fewer racks than before, prints the
plan, and unless --dry-run sends it as one AlterPartitionReassignments
request. A move that only changes the preferred leader copies no data.
Without TOPIC arguments every topic except the internal ones is balanced.
Brokers that do not answer ApiVersions are left out: their replicas stay and
none move there. It refuses to plan while a reassignment is in progress.`,
		Flags: append(adminFlags(),
			&cli.StringFlag{Name: "by", Value: "count", Usage: "what to even out per broker: `count` (replicas and preferred leaders) or bytes (partition sizes)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print the plan only"},
			&cli.BoolFlag{Name: "wait", Usage: "wait (within --timeout) until every move is done"},
		),
		Action: runClusterRebalance,
	}
}

// RebalancePlan is the output of cluster rebalance (--json).
type RebalancePlan struct {
	By    string          `json:"by"`
	Moves []RebalanceMove `json:"moves"`
	// Before and After are the brokers' loads (replicas and preferred
	// leaders; counts, or bytes with --by bytes).
	Before []BrokerLoad `json:"before"`
	After  []BrokerLoad `json:"after"`
	// Executed is whether the moves were sent (not --dry-run).
	Executed bool `json:"executed"`
	// Down lists the brokers that did not answer: replicas on them stay,
	// and none move there.
	Down []int32 `json:"down,omitempty"`
}

// RebalanceMove is one partition's move.
type RebalanceMove struct {
	Topic      string  `json:"topic"`
	Partition  int32   `json:"partition"`
	From       []int32 `json:"from"`
	To         []int32 `json:"to"`
	LeaderOnly bool    `json:"leader_only"`
}

// BrokerLoad is one broker's load.
type BrokerLoad struct {
	Broker   int32  `json:"broker"`
	Rack     string `json:"rack,omitempty"`
	Replicas int64  `json:"replicas"`
	Leaders  int64  `json:"leaders"`
}

func runClusterRebalance(c *cli.Context) error {
	by := c.String("by")
	if by != "count" && by != "bytes" {
		return fmt.Errorf("cluster rebalance: --by %q: want count or bytes", by)
	}
	opts := rebalance.Options{ByBytes: by == "bytes"}
	adm, ctx, done, err := newAdmin(c)
	if err != nil {
		return err
	}
	defer done()
	brokers, parts, down, err := readAssignment(ctx, adm, c.Args().Slice(), opts.ByBytes)
	if err != nil {
		return fmt.Errorf("cluster rebalance: %w", err)
	}
	moves := rebalance.Plan(brokers, parts, opts)
	plan := RebalancePlan{By: by, Moves: []RebalanceMove{}, Before: loads(brokers, parts, opts), Down: down}
	for _, m := range moves {
		plan.Moves = append(plan.Moves, RebalanceMove{Topic: m.Topic, Partition: m.Partition, From: m.From, To: m.To, LeaderOnly: m.LeaderOnly()})
	}
	plan.After = loads(brokers, applyMoves(parts, moves), opts)
	if len(moves) > 0 && !c.Bool("dry-run") {
		if err := executeMoves(ctx, adm, moves); err != nil {
			return fmt.Errorf("cluster rebalance: %w", err)
		}
		plan.Executed = true
	}
	if c.Bool("json") {
		if err := printJSON(c.App.Writer, plan); err != nil {
			return err
		}
	} else if err := printRebalancePlan(c.App.Writer, plan); err != nil {
		return err
	}
	if !plan.Executed || !c.Bool("wait") {
		return nil
	}
	start := time.Now()
	for _, m := range moves {
		if err := waitReassigned(ctx, adm, m.Topic, m.Partition); err != nil {
			return fmt.Errorf("cluster rebalance: %s/%d: %w", m.Topic, m.Partition, err)
		}
	}
	if !c.Bool("json") {
		fmt.Fprintf(c.App.Writer, "all %d moves done in %v\n", len(moves), time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// brokerProbeTimeout bounds the ApiVersions round that finds the brokers
// that are up.
const brokerProbeTimeout = 5 * time.Second

// readAssignment reads the brokers that answer (down lists the others) and
// the partitions of topics (all non-internal ones when none are named)
// with, when bytes is set, each partition's size (the largest of its
// replicas'). It fails while any of those partitions is being reassigned.
func readAssignment(ctx context.Context, adm *kadm.Client, topics []string, bytes bool) (brokers []rebalance.Broker, parts []rebalance.Partition, down []int32, err error) {
	md, err := adm.Metadata(ctx, topics...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("metadata: %w", err)
	}
	// A registered broker that is down would take replicas that never
	// catch up: only brokers answering ApiVersions take part.
	pctx, cancel := context.WithTimeout(ctx, brokerProbeTimeout)
	defer cancel()
	vs, err := adm.ApiVersions(pctx)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("api versions: %w", err)
	}
	for _, b := range md.Brokers {
		if v, ok := vs[b.NodeID]; !ok || v.Err != nil {
			down = append(down, b.NodeID)
			continue
		}
		rb := rebalance.Broker{ID: b.NodeID}
		if b.Rack != nil {
			rb.Rack = *b.Rack
		}
		brokers = append(brokers, rb)
	}
	if len(brokers) == 0 {
		return nil, nil, down, errors.New("no broker answers")
	}
	set := kadm.TopicsSet{}
	for _, t := range md.Topics.Sorted() {
		if t.Err != nil {
			return nil, nil, nil, fmt.Errorf("topic %s: %w", t.Topic, t.Err)
		}
		if t.IsInternal && len(topics) == 0 {
			continue
		}
		for _, p := range t.Partitions.Sorted() {
			parts = append(parts, rebalance.Partition{Topic: t.Topic, Partition: p.Partition, Replicas: slices.Clone(p.Replicas)})
			set.Add(t.Topic, p.Partition)
		}
	}
	if len(parts) == 0 {
		return brokers, nil, down, nil
	}
	ls, err := adm.ListPartitionReassignments(ctx, set)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("list partition reassignments: %w", err)
	}
	if rs := ls.Sorted(); len(rs) > 0 {
		return nil, nil, nil, fmt.Errorf("%d partitions are being reassigned (first %s/%d): wait for them (chronik topic reassignments) or cancel them",
			len(rs), rs[0].Topic, rs[0].Partition)
	}
	if !bytes {
		return brokers, parts, down, nil
	}
	size := map[string]map[int32]int64{}
	for _, b := range brokers {
		bd, err := adm.DescribeBrokerLogDirs(ctx, b.ID, set)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("describe log dirs of broker %d: %w", b.ID, err)
		}
		bd.EachPartition(func(d kadm.DescribedLogDirPartition) {
			if size[d.Topic] == nil {
				size[d.Topic] = map[int32]int64{}
			}
			size[d.Topic][d.Partition] = max(size[d.Topic][d.Partition], d.Size)
		})
	}
	for i := range parts {
		parts[i].Bytes = size[parts[i].Topic][parts[i].Partition]
	}
	return brokers, parts, down, nil
}

// executeMoves sends every move in one AlterPartitionReassignments request;
// the brokers throttle how many run at once (--max-moving-per-broker).
func executeMoves(ctx context.Context, adm *kadm.Client, moves []rebalance.Move) error {
	req := kadm.AlterPartitionAssignmentsReq{}
	for _, m := range moves {
		req.Assign(m.Topic, m.Partition, m.To)
	}
	rs, err := adm.AlterPartitionAssignments(ctx, req)
	if err != nil {
		return fmt.Errorf("alter partition reassignments: %w", err)
	}
	var errs []error
	for _, r := range rs.Sorted() {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s/%d: %w %s", r.Topic, r.Partition, r.Err, r.ErrMessage))
		}
	}
	return errors.Join(errs...)
}

func applyMoves(parts []rebalance.Partition, moves []rebalance.Move) []rebalance.Partition {
	out := slices.Clone(parts)
	to := map[string]map[int32][]int32{}
	for _, m := range moves {
		if to[m.Topic] == nil {
			to[m.Topic] = map[int32][]int32{}
		}
		to[m.Topic][m.Partition] = m.To
	}
	for i, p := range out {
		if r, ok := to[p.Topic][p.Partition]; ok {
			out[i].Replicas = r
		}
	}
	return out
}

func loads(brokers []rebalance.Broker, parts []rebalance.Partition, opts rebalance.Options) []BrokerLoad {
	l := rebalance.Measure(brokers, parts, opts)
	var out []BrokerLoad
	for _, b := range brokers {
		out = append(out, BrokerLoad{Broker: b.ID, Rack: b.Rack, Replicas: l.Replicas[b.ID], Leaders: l.Leaders[b.ID]})
	}
	slices.SortFunc(out, func(a, b BrokerLoad) int { return int(a.Broker - b.Broker) })
	return out
}

func printRebalancePlan(w io.Writer, p RebalancePlan) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	unit := "REPLICAS"
	if p.By == "bytes" {
		unit = "BYTES"
	}
	fmt.Fprintf(tw, "BROKER\tRACK\t%s\tAFTER\tLEADERS\tAFTER\n", unit)
	for i, b := range p.Before {
		a := p.After[i]
		rack := "-"
		if b.Rack != "" {
			rack = displayName(b.Rack)
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%d\n", b.Broker, rack, b.Replicas, a.Replicas, b.Leaders, a.Leaders)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(p.Down) > 0 {
		fmt.Fprintf(w, "\nbrokers %v did not answer: their replicas stay, none move there\n", p.Down)
	}
	if len(p.Moves) == 0 {
		_, err := fmt.Fprintln(w, "\nbalanced: nothing to move")
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tFROM\tTO\tKIND")
	data := 0
	for _, m := range p.Moves {
		kind := "replicas"
		if m.LeaderOnly {
			kind = "leader"
		} else {
			data++
		}
		fmt.Fprintf(tw, "%s\t%d\t%v\t%v\t%s\n", m.Topic, m.Partition, m.From, m.To, kind)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verb := "dry run: nothing sent"
	if p.Executed {
		verb = "reassignments sent; chronik topic reassignments lists them until done"
	}
	_, err := fmt.Fprintf(w, "\n%d moves (%d copy data, %d only change the preferred leader); %s\n", len(p.Moves), data, len(p.Moves)-data, verb)
	return err
}
