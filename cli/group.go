package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/urfave/cli/v2"
)

func groupCommand() *cli.Command {
	return &cli.Command{
		Name:  "group",
		Usage: "list, describe, delete consumer groups and reset their offsets (Kafka protocol, like kafka-consumer-groups)",
		Subcommands: []*cli.Command{
			{
				Name: "list", Usage: "list consumer groups",
				Flags:  append(adminFlags(), &cli.StringSliceFlag{Name: "state", Usage: "only groups in this state (Empty, Stable, PreparingRebalance, CompletingRebalance; consumer groups: Assigning, Reconciling; repeatable)"}),
				Action: runGroupList,
			},
			{Name: "describe", Usage: "show groups' members and per-partition committed offset, end offset and lag", ArgsUsage: "GROUP...", Flags: adminFlags(), Action: runGroupDescribe},
			{Name: "delete", Usage: "delete empty groups and their committed offsets", ArgsUsage: "GROUP...", Flags: adminFlags(), Action: runGroupDelete},
			{
				Name: "reset-offsets", Usage: "set a group's committed offsets (the group must have no members); prints the plan, --execute commits it", ArgsUsage: "GROUP",
				Flags: append(adminFlags(),
					&cli.StringSliceFlag{Name: "topic", Usage: "topic to reset (repeatable; default: every topic the group has offsets for)"},
					&cli.BoolFlag{Name: "to-earliest", Usage: "reset to the log start offset"},
					&cli.BoolFlag{Name: "to-latest", Usage: "reset to the end offset"},
					&cli.Int64Flag{Name: "to-offset", Value: -1, Usage: "reset to this offset (clamped to the log)"},
					&cli.Int64Flag{Name: "shift-by", Usage: "move the committed offsets by this many records (clamped)"},
					&cli.StringFlag{Name: "to-datetime", Usage: "reset to the first offset at or after this time (RFC 3339)"},
					&cli.BoolFlag{Name: "execute", Usage: "commit the new offsets (default: only print them)"},
				),
				Action: runGroupReset,
			},
		},
	}
}

// GroupListing is one line of group list output.
type GroupListing struct {
	Group string `json:"group"`
	// Type is "classic", "consumer" (KIP-848) or "share" (KIP-932); empty from a broker
	// before ListGroups v5.
	Type         string `json:"type,omitempty"`
	State        string `json:"state"`
	ProtocolType string `json:"protocol_type"`
	Coordinator  int32  `json:"coordinator"`
}

func runGroupList(c *cli.Context) error {
	adm, ctx, done, err := newAdmin(c)
	if err != nil {
		return err
	}
	defer done()
	groups, err := adm.ListGroups(ctx, c.StringSlice("state")...)
	if err != nil {
		return fmt.Errorf("list groups: %w", err)
	}
	out := []GroupListing{}
	for _, g := range groups.Sorted() {
		out = append(out, GroupListing{Group: g.Group, Type: g.GroupType, State: g.State, ProtocolType: g.ProtocolType, Coordinator: g.Coordinator})
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, out)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tTYPE\tSTATE\tPROTOCOL-TYPE\tCOORDINATOR")
	for _, g := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", g.Group, orDash(g.Type), g.State, g.ProtocolType, g.Coordinator)
	}
	return tw.Flush()
}

// GroupDescription is a described group with its lag: a classic group
// (DescribeGroups), a KIP-848 consumer group (ConsumerGroupDescribe:
// Type "consumer", Protocol is its server-side assignor) or a share group
// (ShareGroupDescribe: Type "share"; a partition's Committed is its
// share-partition start offset).
type GroupDescription struct {
	Group        string `json:"group"`
	Type         string `json:"type"` // classic, consumer or share
	State        string `json:"state"`
	ProtocolType string `json:"protocol_type"`
	Protocol     string `json:"protocol"`
	// GroupEpoch and AssignmentEpoch are a consumer group's epoch and
	// the epoch of its target assignment.
	GroupEpoch      int32          `json:"group_epoch,omitempty"`
	AssignmentEpoch int32          `json:"assignment_epoch,omitempty"`
	Coordinator     int32          `json:"coordinator"`
	Members         []GroupMember  `json:"members"`
	Partitions      []PartitionLag `json:"partitions"`
	TotalLag        int64          `json:"total_lag"`
	Error           string         `json:"error,omitempty"`
}

// GroupMember is one member of a described group.
type GroupMember struct {
	MemberID   string  `json:"member_id"`
	InstanceID *string `json:"instance_id,omitempty"`
	ClientID   string  `json:"client_id"`
	ClientHost string  `json:"client_host"`
	Partitions int     `json:"partitions"`
	// MemberEpoch, Assignment and TargetAssignment (topic -> partitions)
	// are set for members of consumer groups.
	MemberEpoch      *int32             `json:"member_epoch,omitempty"`
	Assignment       map[string][]int32 `json:"assignment,omitempty"`
	TargetAssignment map[string][]int32 `json:"target_assignment,omitempty"`
}

// PartitionLag is a group's position on one partition.
type PartitionLag struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"` // -1: no commit
	End       int64  `json:"end"`
	Lag       int64  `json:"lag"` // -1: unknown
	MemberID  string `json:"member_id,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Error     string `json:"error,omitempty"`
}

func describeGroups(ctx context.Context, adm *kadm.Client, groups []string) ([]GroupDescription, error) {
	lags, err := adm.Lag(ctx, groups...)
	if err != nil {
		return nil, fmt.Errorf("describe groups: %w", err)
	}
	var out []GroupDescription
	for _, l := range lags.Sorted() {
		d := GroupDescription{Group: l.Group, State: l.State, ProtocolType: l.ProtocolType, Protocol: l.Protocol,
			Coordinator: l.Coordinator.NodeID, Members: []GroupMember{}, Partitions: []PartitionLag{}}
		if err := l.Error(); err != nil {
			d.Error = err.Error()
		}
		for _, m := range l.Members {
			gm := GroupMember{MemberID: m.MemberID, InstanceID: m.InstanceID, ClientID: m.ClientID, ClientHost: m.ClientHost}
			if a, ok := m.Assigned.AsConsumer(); ok {
				for _, t := range a.Topics {
					gm.Partitions += len(t.Partitions)
				}
			}
			d.Members = append(d.Members, gm)
		}
		for _, pl := range l.Lag.Sorted() {
			p := PartitionLag{Topic: pl.Topic, Partition: pl.Partition, Committed: pl.Commit.At, End: pl.End.Offset, Lag: pl.Lag}
			if pl.Commit.At < 0 && pl.Lag >= 0 {
				p.Committed = -1
			}
			if pl.Member != nil {
				p.MemberID, p.ClientID = pl.Member.MemberID, pl.Member.ClientID
			}
			if pl.Err != nil {
				p.Error = pl.Err.Error()
			}
			if pl.Lag > 0 {
				d.TotalLag += pl.Lag
			}
			d.Partitions = append(d.Partitions, p)
		}
		d.Type = "classic"
		out = append(out, d)
	}
	if err := addConsumerGroups(ctx, adm, out); err != nil {
		return out, err
	}
	return out, addShareGroups(ctx, adm, out)
}

// deadGroups names the groups of out that DescribeGroups found Dead
// without an error: groups of another protocol, or none at all.
func deadGroups(out []GroupDescription) []string {
	var dead []string
	for _, d := range out {
		if d.State == "Dead" && d.Error == "" {
			dead = append(dead, d.Group)
		}
	}
	return dead
}

// addShareGroups describes the groups still Dead with ShareGroupDescribe
// and DescribeShareGroupOffsets: share groups (KIP-932). Their partitions'
// Committed is the share-partition start offset (SPSO), and Lag the
// records from it to the end (some of them may be settled already). A
// broker without the APIs leaves them as they are.
func addShareGroups(ctx context.Context, adm *kadm.Client, out []GroupDescription) error {
	dead := deadGroups(out)
	if len(dead) == 0 {
		return nil
	}
	described, err := adm.DescribeShareGroups(ctx, dead...)
	if err != nil && len(described) == 0 {
		return nil
	}
	offsets, _ := adm.DescribeShareGroupOffsets(ctx, dead...)
	for i := range out {
		sg, ok := described[out[i].Group]
		if !ok || sg.Err != nil {
			continue
		}
		d := &out[i]
		d.Type, d.State, d.ProtocolType, d.Protocol = "share", sg.GroupState, "share", sg.Assignor
		d.GroupEpoch, d.AssignmentEpoch, d.Coordinator = sg.GroupEpoch, sg.AssignmentEpoch, sg.Coordinator.NodeID
		d.Members, d.Partitions, d.TotalLag = []GroupMember{}, []PartitionLag{}, 0
		for _, m := range sg.Members {
			epoch := m.MemberEpoch
			gm := GroupMember{MemberID: m.MemberID, ClientID: m.ClientID, ClientHost: m.ClientHost,
				MemberEpoch: &epoch, Assignment: map[string][]int32{}}
			for t, ps := range m.Assignment {
				for p := range ps {
					gm.Assignment[t] = append(gm.Assignment[t], p)
				}
				slices.Sort(gm.Assignment[t])
				gm.Partitions += len(ps)
			}
			d.Members = append(d.Members, gm)
		}
		so := offsets[d.Group]
		if so.Err != nil {
			d.Error = so.Err.Error()
			continue
		}
		var topics []string
		for t := range so.Offsets {
			topics = append(topics, t)
		}
		ends, _ := adm.ListEndOffsets(ctx, topics...)
		for _, t := range slices.Sorted(slices.Values(topics)) {
			for _, p := range slices.Sorted(maps.Keys(so.Offsets[t])) {
				o := so.Offsets[t][p]
				pl := PartitionLag{Topic: t, Partition: p, Committed: o.StartOffset, End: -1, Lag: -1}
				if o.Err != nil {
					pl.Error = o.Err.Error()
				}
				if e, ok := ends.Lookup(t, p); ok && e.Err == nil {
					pl.End = e.Offset
					if o.StartOffset >= 0 {
						pl.Lag = max(e.Offset-o.StartOffset, 0)
						d.TotalLag += pl.Lag
					}
				}
				d.Partitions = append(d.Partitions, pl)
			}
		}
	}
	return nil
}

// addConsumerGroups describes the groups DescribeGroups found Dead again
// with ConsumerGroupDescribe: KIP-848 groups, which DescribeGroups does
// not describe. A broker without the API leaves them as they are.
func addConsumerGroups(ctx context.Context, adm *kadm.Client, out []GroupDescription) error {
	dead := deadGroups(out)
	if len(dead) == 0 {
		return nil
	}
	described, err := adm.DescribeConsumerGroups(ctx, dead...)
	if err != nil && len(described) == 0 {
		return nil // not a KIP-848 broker, or no group to describe
	}
	for i := range out {
		cg, ok := described[out[i].Group]
		if !ok || cg.Err != nil {
			continue
		}
		d := &out[i]
		d.Type, d.State, d.ProtocolType, d.Protocol = "consumer", cg.State, "consumer", cg.AssignorName
		d.GroupEpoch, d.AssignmentEpoch, d.Coordinator = cg.Epoch, cg.AssignmentEpoch, cg.Coordinator.NodeID
		d.Members = d.Members[:0]
		owner := map[string]map[int32]GroupMember{}
		for _, m := range cg.Members {
			epoch := m.MemberEpoch
			gm := GroupMember{MemberID: m.MemberID, InstanceID: m.InstanceID, ClientID: m.ClientID, ClientHost: m.ClientHost,
				MemberEpoch: &epoch, Assignment: map[string][]int32{}, TargetAssignment: map[string][]int32{}}
			for t, ps := range m.Assignment {
				for p := range ps {
					gm.Assignment[t] = append(gm.Assignment[t], p)
				}
				slices.Sort(gm.Assignment[t])
				gm.Partitions += len(ps)
			}
			for t, ps := range m.TargetAssignment {
				for p := range ps {
					gm.TargetAssignment[t] = append(gm.TargetAssignment[t], p)
				}
				slices.Sort(gm.TargetAssignment[t])
			}
			for t, ps := range gm.Assignment {
				if owner[t] == nil {
					owner[t] = map[int32]GroupMember{}
				}
				for _, p := range ps {
					owner[t][p] = gm
				}
			}
			d.Members = append(d.Members, gm)
		}
		for j := range d.Partitions {
			p := &d.Partitions[j]
			if m, ok := owner[p.Topic][p.Partition]; ok {
				p.MemberID, p.ClientID = m.MemberID, m.ClientID
			}
		}
	}
	return nil
}

// assignmentString prints topic -> partitions compactly: "t[0 1] u[2]".
func assignmentString(a map[string][]int32) string {
	if len(a) == 0 {
		return "-"
	}
	topics := make([]string, 0, len(a))
	for t := range a {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	var b strings.Builder
	for i, t := range topics {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s%v", t, a[t])
	}
	return b.String()
}

func runGroupDescribe(c *cli.Context) error {
	if c.NArg() == 0 {
		return errors.New("group describe: name at least one group")
	}
	adm, ctx, done, err := newAdmin(c)
	if err != nil {
		return err
	}
	defer done()
	out, err := describeGroups(ctx, adm, c.Args().Slice())
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, out)
	}
	w := c.App.Writer
	for i, d := range out {
		if i > 0 {
			fmt.Fprintln(w)
		}
		switch d.Type {
		case "share":
			fmt.Fprintf(w, "group %s: share group (KIP-932) %s, assignor %s, group epoch %d, coordinator %d, %d members, %d records from the start offsets to the ends\n",
				d.Group, d.State, d.Protocol, d.GroupEpoch, d.Coordinator, len(d.Members), d.TotalLag)
		case "consumer":
			fmt.Fprintf(w, "group %s: consumer group (KIP-848) %s, assignor %s, group epoch %d, assignment epoch %d, coordinator %d, %d members, total lag %d\n",
				d.Group, d.State, d.Protocol, d.GroupEpoch, d.AssignmentEpoch, d.Coordinator, len(d.Members), d.TotalLag)
		default:
			fmt.Fprintf(w, "group %s: %s, protocol %s/%s, coordinator %d, %d members, total lag %d\n",
				d.Group, d.State, d.ProtocolType, d.Protocol, d.Coordinator, len(d.Members), d.TotalLag)
		}
		if d.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", d.Error)
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		if d.Type == "share" {
			printShareGroup(tw, d)
			continue
		}
		if len(d.Members) > 0 && d.Type == "consumer" {
			fmt.Fprintln(tw, "MEMBER\tINSTANCE\tCLIENT-ID\tHOST\tEPOCH\tASSIGNED\tTARGET")
			for _, m := range d.Members {
				inst := "-"
				if m.InstanceID != nil {
					inst = *m.InstanceID
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", m.MemberID, inst, m.ClientID, orDash(m.ClientHost), *m.MemberEpoch,
					assignmentString(m.Assignment), assignmentString(m.TargetAssignment))
			}
			fmt.Fprintln(tw)
		} else if len(d.Members) > 0 {
			fmt.Fprintln(tw, "MEMBER\tINSTANCE\tCLIENT-ID\tHOST\tPARTITIONS")
			for _, m := range d.Members {
				inst := "-"
				if m.InstanceID != nil {
					inst = *m.InstanceID
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", m.MemberID, inst, m.ClientID, orDash(m.ClientHost), m.Partitions)
			}
			fmt.Fprintln(tw)
		}
		fmt.Fprintln(tw, "TOPIC\tPARTITION\tCOMMITTED\tEND\tLAG\tCLIENT-ID")
		for _, p := range d.Partitions {
			committed := "-"
			if p.Committed >= 0 {
				committed = fmt.Sprint(p.Committed)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%s\n", p.Topic, p.Partition, committed, p.End, p.Lag, orDash(p.ClientID))
		}
		tw.Flush()
	}
	return nil
}

// printShareGroup prints a share group's members and its partitions'
// start offsets.
func printShareGroup(tw *tabwriter.Writer, d GroupDescription) {
	if len(d.Members) > 0 {
		fmt.Fprintln(tw, "MEMBER\tCLIENT-ID\tHOST\tEPOCH\tASSIGNED")
		for _, m := range d.Members {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", m.MemberID, m.ClientID, orDash(m.ClientHost), *m.MemberEpoch, assignmentString(m.Assignment))
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tSTART-OFFSET\tEND\tIN-FLIGHT-OR-UNREAD")
	for _, p := range d.Partitions {
		start := "-"
		if p.Committed >= 0 {
			start = fmt.Sprint(p.Committed)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\n", p.Topic, p.Partition, start, p.End, p.Lag)
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// GroupResult is one line of group delete output.
type GroupResult struct {
	Group string `json:"group"`
	Error string `json:"error,omitempty"`
}

func runGroupDelete(c *cli.Context) error {
	if c.NArg() == 0 {
		return errors.New("group delete: name at least one group")
	}
	adm, ctx, done, err := newAdmin(c)
	if err != nil {
		return err
	}
	defer done()
	resps, err := adm.DeleteGroups(ctx, c.Args().Slice()...)
	if err != nil {
		return fmt.Errorf("delete groups: %w", err)
	}
	var out []GroupResult
	failed := 0
	for _, r := range resps.Sorted() {
		gr := GroupResult{Group: r.Group}
		if r.Err != nil {
			gr.Error = r.Err.Error()
			failed++
		}
		out = append(out, gr)
	}
	if c.Bool("json") {
		if err := printJSON(c.App.Writer, out); err != nil {
			return err
		}
	} else {
		for _, r := range out {
			if r.Error != "" {
				fmt.Fprintf(c.App.Writer, "%s\tFAILED: %s\n", r.Group, r.Error)
			} else {
				fmt.Fprintf(c.App.Writer, "%s\tdeleted\n", r.Group)
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d groups failed", failed, len(out))
	}
	return nil
}

// OffsetReset is one partition of a reset-offsets plan.
type OffsetReset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Current   int64  `json:"current"` // -1: no commit
	New       int64  `json:"new"`
	Error     string `json:"error,omitempty"`
}

func runGroupReset(c *cli.Context) error {
	if c.NArg() != 1 {
		return errors.New("group reset-offsets: name one group")
	}
	group := c.Args().First()
	modes := 0
	for _, f := range []string{"to-earliest", "to-latest", "to-offset", "shift-by", "to-datetime"} {
		if c.IsSet(f) {
			modes++
		}
	}
	if modes != 1 {
		return errors.New("group reset-offsets: give exactly one of --to-earliest, --to-latest, --to-offset, --shift-by, --to-datetime")
	}
	var at time.Time
	if s := c.String("to-datetime"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return fmt.Errorf("--to-datetime %q: %w", s, err)
		}
		at = t
	}
	adm, ctx, done, err := newAdmin(c)
	if err != nil {
		return err
	}
	defer done()

	current, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return fmt.Errorf("fetch offsets of %s: %w", group, err)
	}
	topics := c.StringSlice("topic")
	if len(topics) == 0 {
		for t := range current {
			topics = append(topics, t)
		}
		slices.Sort(topics)
	}
	if len(topics) == 0 {
		return fmt.Errorf("group %s has no committed offsets: name --topic", group)
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("list start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	var byTime kadm.ListedOffsets
	if !at.IsZero() {
		if byTime, err = adm.ListOffsetsAfterMilli(ctx, at.UnixMilli(), topics...); err != nil {
			return fmt.Errorf("list offsets at %s: %w", at, err)
		}
	}
	var plan []OffsetReset
	commit := kadm.Offsets{}
	ends.Each(func(e kadm.ListedOffset) {
		r := OffsetReset{Topic: e.Topic, Partition: e.Partition, Current: -1}
		if cur, ok := current.Lookup(e.Topic, e.Partition); ok && cur.Err == nil {
			r.Current = cur.At
		}
		s, _ := starts.Lookup(e.Topic, e.Partition)
		if e.Err != nil || s.Err != nil {
			r.Error = errors.Join(e.Err, s.Err).Error()
			plan = append(plan, r)
			return
		}
		switch {
		case c.Bool("to-earliest"):
			r.New = s.Offset
		case c.Bool("to-latest"):
			r.New = e.Offset
		case c.IsSet("to-offset"):
			r.New = c.Int64("to-offset")
		case c.IsSet("shift-by"):
			base := r.Current
			if base < 0 {
				base = s.Offset
			}
			r.New = base + c.Int64("shift-by")
		default:
			r.New = e.Offset
			if o, ok := byTime.Lookup(e.Topic, e.Partition); ok && o.Err == nil && o.Offset >= 0 {
				r.New = o.Offset
			}
		}
		r.New = min(max(r.New, s.Offset), e.Offset)
		commit.Add(kadm.Offset{Topic: e.Topic, Partition: e.Partition, At: r.New, LeaderEpoch: -1})
		plan = append(plan, r)
	})
	slices.SortFunc(plan, func(a, b OffsetReset) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	failed := 0
	if c.Bool("execute") {
		resps, err := adm.CommitOffsets(ctx, group, commit)
		if err != nil {
			return fmt.Errorf("commit offsets of %s: %w", group, err)
		}
		for i := range plan {
			if r, ok := resps.Lookup(plan[i].Topic, plan[i].Partition); ok && r.Err != nil {
				plan[i].Error = r.Err.Error()
			}
		}
	}
	for _, r := range plan {
		if r.Error != "" {
			failed++
		}
	}
	if c.Bool("json") {
		if err := printJSON(c.App.Writer, plan); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TOPIC\tPARTITION\tCURRENT\tNEW\tERROR")
		for _, r := range plan {
			cur := "-"
			if r.Current >= 0 {
				cur = fmt.Sprint(r.Current)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\n", r.Topic, r.Partition, cur, r.New, orDash(r.Error))
		}
		tw.Flush()
		if !c.Bool("execute") {
			fmt.Fprintln(c.App.Writer, "(dry run: add --execute to commit)")
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d partitions failed", failed, len(plan))
	}
	return nil
}
