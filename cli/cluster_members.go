package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/urfave/cli/v2"
)

// Growing and shrinking a running cluster (docs/CLUSTER.md, "Adding and
// removing brokers"): `cluster add-broker` and `start --join` send Kafka's
// AddRaftVoter, `cluster remove-broker` moves the broker's replicas off
// with partition reassignments and then sends UnregisterBroker.

func clusterAddBrokerCommand() *cli.Command {
	return &cli.Command{
		Name:      "add-broker",
		Usage:     "add a broker to the running cluster (before it starts, or let `chronik start --join` do it)",
		ArgsUsage: "ID",
		Description: `Records the new broker's Raft address in __meta, so every broker can reach
it, and makes it a voter of __meta (AddRaftVoter). Then start it with its own
--node-id, --raft-addr and --join naming brokers of this cluster; it
registers its Kafka listeners and gets partitions from then on (new topics,
or chronik topic reassign). Refused while too few __meta voters are
reachable to commit with one more, and for a removed id (ids never come
back).`,
		Flags: append(adminFlags(),
			&cli.StringFlag{Name: "raft-addr", Usage: "the new broker's Raft address, host:port, as it will be started with (required)"},
			&cli.BoolFlag{Name: "wait", Usage: "wait (within --timeout) until the broker has started and registered"},
		),
		Action: runClusterAddBroker,
	}
}

func clusterRemoveBrokerCommand() *cli.Command {
	return &cli.Command{
		Name:      "remove-broker",
		Usage:     "move every replica off a broker, then remove it from the cluster",
		ArgsUsage: "ID",
		Description: `Moves every partition replica off the broker (partition reassignments: each
replica goes to the remaining broker with the fewest replicas, keeping its
position in the replica list), waits for the moves, then removes the broker
(UnregisterBroker): it leaves __meta and every broker's Raft registry, and
the removed broker process shuts itself down. Refused when a partition
has as many replicas as brokers would remain, or when the remaining
reachable brokers would not form a quorum of __meta. The id is never used
again. Give --timeout room for the moves (default 30s).`,
		Flags:  adminFlags(),
		Action: runClusterRemoveBroker,
	}
}

// joinFunc returns the engine's Config.Join of `chronik start --join`:
// AddRaftVoter for this broker to the brokers in seeds. nil without seeds.
//
// It first checks that peers (--peers) names every registered broker: the
// new broker's __meta replica learns the other brokers' Raft addresses
// from __meta only once it has caught up, and it cannot catch up without
// answering its leader.
func joinFunc(seeds string, id uint64, raftAddr string, peers map[uint64]string, lg *slog.Logger) func(context.Context) error {
	list := splitList(seeds)
	if len(list) == 0 {
		return nil
	}
	return func(ctx context.Context) error {
		cl, err := kgo.NewClient(kgo.SeedBrokers(list...))
		if err != nil {
			return fmt.Errorf("kafka client for %v: %w", list, err)
		}
		defer cl.Close()
		md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
		if err != nil {
			return fmt.Errorf("brokers of the cluster at %v: %w", list, err)
		}
		for _, b := range md.Brokers {
			if _, ok := peers[uint64(b.NodeID)]; !ok && uint64(b.NodeID) != id {
				return fmt.Errorf("--peers has no entry for broker %d of the cluster: name every broker (id@raft-host:port) and this one", b.NodeID)
			}
		}
		if err := addRaftVoter(ctx, cl, nil, id, raftAddr); err != nil {
			return err
		}
		lg.Info("joined the cluster: a member added this broker", "node", id, "via", seeds)
		return nil
	}
}

// addRaftVoter sends AddRaftVoter for broker id at raftAddr, to broker via
// if not nil, else to any broker.
func addRaftVoter(ctx context.Context, cl *kgo.Client, via *int32, id uint64, raftAddr string) error {
	host, port, err := net.SplitHostPort(raftAddr)
	if err != nil {
		return fmt.Errorf("raft address %q: %w", raftAddr, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("raft address %q: bad port", raftAddr)
	}
	req := kmsg.NewPtrAddRaftVoterRequest()
	req.VoterID = int32(id)
	req.AckWhenCommitted = true
	if dl, ok := ctx.Deadline(); ok {
		req.TimeoutMillis = int32(max(time.Until(dl).Milliseconds(), 1))
	}
	l := kmsg.NewAddRaftVoterRequestListener()
	l.Name, l.Host, l.Port = "RAFT", host, uint16(p)
	req.Listeners = append(req.Listeners, l)
	var resp kmsg.Response
	if via != nil {
		resp, err = cl.Broker(int(*via)).Request(ctx, req)
	} else {
		resp, err = cl.Request(ctx, req)
	}
	if err != nil {
		return fmt.Errorf("add broker %d: %w", id, err)
	}
	r := resp.(*kmsg.AddRaftVoterResponse)
	return codeErr(fmt.Sprintf("add broker %d", id), r.ErrorCode, r.ErrorMessage)
}

// codeErr returns nil for code 0, else the Kafka error with the broker's
// message (errors.Is matches the kerr error).
func codeErr(what string, code int16, msg *string) error {
	err := kerr.ErrorForCode(code)
	if err == nil {
		return nil
	}
	ke := &kafkaErr{what: what, err: err}
	if msg != nil {
		ke.msg = *msg
	}
	return ke
}

// kafkaErr is a Kafka error code answered for what, with the broker's
// message: the code's name and the message, not the code's generic
// description, when there is one.
type kafkaErr struct {
	what, msg string
	err       error
}

func (e *kafkaErr) Error() string {
	var ke *kerr.Error
	if e.msg != "" && errors.As(e.err, &ke) {
		return fmt.Sprintf("%s: %s: %s", e.what, ke.Message, e.msg)
	}
	return fmt.Sprintf("%s: %v", e.what, e.err)
}

func (e *kafkaErr) Unwrap() error { return e.err }

func brokerArg(c *cli.Context, cmd string) (int32, error) {
	if c.NArg() != 1 {
		return 0, fmt.Errorf("cluster %s: name one broker id", cmd)
	}
	id, err := strconv.ParseInt(c.Args().First(), 10, 32)
	if err != nil || id <= 0 || id > 999 {
		return 0, fmt.Errorf("cluster %s: %q is not a broker id (1-999)", cmd, c.Args().First())
	}
	return int32(id), nil
}

func runClusterAddBroker(c *cli.Context) error {
	id, err := brokerArg(c, "add-broker")
	if err != nil {
		return err
	}
	if c.String("raft-addr") == "" {
		return errors.New("cluster add-broker: --raft-addr is required")
	}
	cl, ctx, done, err := newAdminKgo(c)
	if err != nil {
		return err
	}
	defer done()
	if err := addRaftVoter(ctx, cl, nil, uint64(id), c.String("raft-addr")); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "broker %d added at %s; start it with --node-id %d --raft-addr %s --join %s\n",
		id, c.String("raft-addr"), id, c.String("raft-addr"), c.String("brokers"))
	if !c.Bool("wait") {
		return nil
	}
	adm := kadm.NewClient(cl)
	for {
		if md, err := adm.BrokerMetadata(ctx); err == nil && slices.ContainsFunc(md.Brokers, func(b kadm.BrokerDetail) bool { return b.NodeID == id }) {
			fmt.Fprintf(c.App.Writer, "broker %d registered\n", id)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("broker %d added but not registered yet: %w", id, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// partitionReplicas is one partition's replica brokers.
type partitionReplicas struct {
	topic     string
	partition int32
	replicas  []int32
}

// planDrain returns, for every partition with a replica on broker leaving,
// the replicas it moves to: leaving replaced, in the same position, by the
// broker of brokers (not leaving, not already a replica) with the fewest
// replicas so far, the lowest id on a tie. It fails when some partition has
// no broker to move to.
func planDrain(parts []partitionReplicas, brokers []int32, leaving int32) ([]partitionReplicas, error) {
	load := map[int32]int{}
	for _, b := range brokers {
		if b != leaving {
			load[b] = 0
		}
	}
	for _, p := range parts {
		for _, r := range p.replicas {
			if _, ok := load[r]; ok {
				load[r]++
			}
		}
	}
	ids := make([]int32, 0, len(load))
	for b := range load {
		ids = append(ids, b)
	}
	slices.Sort(ids)
	var out []partitionReplicas
	for _, p := range parts {
		i := slices.Index(p.replicas, leaving)
		if i < 0 {
			continue
		}
		pick := int32(-1)
		for _, b := range ids {
			if slices.Contains(p.replicas, b) {
				continue
			}
			if pick < 0 || load[b] < load[pick] {
				pick = b
			}
		}
		if pick < 0 {
			return nil, fmt.Errorf("%s/%d has %d replicas and only %d brokers would remain: lower its replication factor first (chronik topic reassign)",
				p.topic, p.partition, len(p.replicas), len(ids))
		}
		target := slices.Clone(p.replicas)
		target[i] = pick
		load[pick]++
		out = append(out, partitionReplicas{topic: p.topic, partition: p.partition, replicas: target})
	}
	return out, nil
}

// clusterReplicas reads every partition's replicas (internal topics too)
// and the registered brokers.
func clusterReplicas(ctx context.Context, adm *kadm.Client) ([]partitionReplicas, []int32, error) {
	md, err := adm.Metadata(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("metadata: %w", err)
	}
	var parts []partitionReplicas
	for _, t := range md.Topics.Sorted() {
		if t.Err != nil {
			return nil, nil, fmt.Errorf("topic %s: %w", t.Topic, t.Err)
		}
		for _, p := range t.Partitions.Sorted() {
			parts = append(parts, partitionReplicas{topic: t.Topic, partition: p.Partition, replicas: p.Replicas})
		}
	}
	var brokers []int32
	for _, b := range md.Brokers {
		brokers = append(brokers, b.NodeID)
	}
	slices.Sort(brokers)
	return parts, brokers, nil
}

func runClusterRemoveBroker(c *cli.Context) error {
	id, err := brokerArg(c, "remove-broker")
	if err != nil {
		return err
	}
	cl, ctx, done, err := newAdminKgo(c)
	if err != nil {
		return err
	}
	defer done()
	adm := kadm.NewClient(cl)
	parts, brokers, err := clusterReplicas(ctx, adm)
	if err != nil {
		return err
	}
	moves, err := planDrain(parts, brokers, id)
	if err != nil {
		return fmt.Errorf("remove broker %d: %w", id, err)
	}
	if len(moves) > 0 {
		req := kadm.AlterPartitionAssignmentsReq{}
		for _, m := range moves {
			req.Assign(m.topic, m.partition, m.replicas)
		}
		rs, err := adm.AlterPartitionAssignments(ctx, req)
		if err != nil {
			return fmt.Errorf("remove broker %d: reassign its partitions: %w", id, err)
		}
		for _, r := range rs.Sorted() {
			if r.Err != nil {
				return fmt.Errorf("remove broker %d: reassign %s/%d: %w %s", id, r.Topic, r.Partition, r.Err, r.ErrMessage)
			}
		}
		fmt.Fprintf(c.App.Writer, "moving %d partitions off broker %d\n", len(moves), id)
		start := time.Now()
		set := kadm.TopicsSet{}
		for _, m := range moves {
			set.Add(m.topic, m.partition)
		}
		// ListPartitionReassignments is answered from __meta (Metadata
		// may come from the client's cache); UnregisterBroker below is
		// refused, and retried, should a broker's view lag.
		for {
			ls, err := adm.ListPartitionReassignments(ctx, set)
			moving := 0
			for _, ps := range ls {
				moving += len(ps)
			}
			if err == nil && moving == 0 {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("remove broker %d: %d partitions still moving off it: %w", id, moving, ctx.Err())
			case <-time.After(250 * time.Millisecond):
			}
		}
		fmt.Fprintf(c.App.Writer, "broker %d holds no replica (moves took %v)\n", id, time.Since(start).Round(time.Millisecond))
	}
	// Ask another broker: the one removed stops serving meanwhile.
	var via int32 = -1
	for _, b := range brokers {
		if b != id {
			via = b
			break
		}
	}
	if via < 0 {
		return fmt.Errorf("remove broker %d: no other broker to ask", id)
	}
	req := kmsg.NewPtrUnregisterBrokerRequest()
	req.BrokerID = id
	for {
		resp, err := cl.Broker(int(via)).Request(ctx, req)
		if err == nil {
			r := resp.(*kmsg.UnregisterBrokerResponse)
			err = codeErr(fmt.Sprintf("remove broker %d", id), r.ErrorCode, r.ErrorMessage)
			// A reassignment that just ended may not have reached the
			// asked broker's __meta yet.
			// A retriable error (__meta electing a leader, a timed-out
			// step) is retried too: every step is idempotent.
			hasReplicas := errors.Is(err, kerr.InvalidRequest) && r.ErrorMessage != nil && isHasReplicas(*r.ErrorMessage)
			if (hasReplicas || kerr.IsRetriable(err)) && ctx.Err() == nil {
				time.Sleep(250 * time.Millisecond)
				continue
			}
		}
		if err != nil {
			return err
		}
		break
	}
	fmt.Fprintf(c.App.Writer, "broker %d removed from the cluster\n", id)
	return nil
}

// isHasReplicas reports whether an UnregisterBroker error message says the
// broker still holds replicas (engine.ErrBrokerHasReplicas).
func isHasReplicas(msg string) bool {
	return strings.Contains(msg, "still holds partition replicas") || strings.Contains(msg, "have a replica on it")
}
