// Package rebalance plans the partition moves that spread replicas and
// preferred leaders evenly over a cluster's brokers (`chronik cluster
// rebalance`). Plan is a pure function: the CLI reads the cluster's
// assignment over the Kafka protocol, plans, and carries the moves out with
// AlterPartitionReassignments.
//
// # What a plan does
//
//  1. Racks: a partition whose replicas share a rack while a rack it does
//     not use has a broker gets the duplicate replica moved there, so its
//     replicas sit in as many distinct racks as there are (up to its
//     replication factor).
//  2. Replicas: while moving one replica from a broker to another lowers
//     the spread of the brokers' loads (the replica count, or with ByBytes
//     the partition sizes), the most loaded broker gives a replica to the
//     least loaded one that can take it: never two replicas of a partition
//     on one broker, never fewer distinct racks for the partition.
//  3. Leaders: the same for preferred leaders (the first replica), by
//     reordering a partition's replicas, which copies no data.
//
// Each step moves one replica (or one leadership) and strictly lowers the
// sum of squared loads, so the plan ends; partitions already in the plan are
// preferred for further steps, which keeps the number of partitions moved
// small. Replicas on brokers not in the broker list stay where they are.
package rebalance

import (
	"cmp"
	"slices"
	"strconv"
)

// Broker is a broker a plan may place replicas on.
type Broker struct {
	ID   int32
	Rack string // "" when the broker has none
}

// Partition is one partition's current assignment.
type Partition struct {
	Topic     string
	Partition int32
	// Replicas are broker ids; the first is the preferred leader.
	Replicas []int32
	// Bytes is the partition's size (used with Options.ByBytes).
	Bytes int64
}

// Options tune a plan.
type Options struct {
	// ByBytes balances the sum of partition sizes per broker instead of
	// the number of replicas (and of preferred leaderships). A partition
	// of size 0 then weighs 1, so empty partitions still spread.
	ByBytes bool
}

// Move is one partition's new assignment.
type Move struct {
	Topic     string
	Partition int32
	From, To  []int32 // replica brokers before and after; To[0] is the new preferred leader
}

// LeaderOnly reports whether the move only changes the preferred leader
// (same brokers, other order): no data is copied.
func (m Move) LeaderOnly() bool {
	a, b := slices.Clone(m.From), slices.Clone(m.To)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// Loads are the replica and preferred-leader loads per broker.
type Loads struct {
	Replicas, Leaders map[int32]int64
}

// Measure returns the brokers' loads under parts (replica counts, or with
// ByBytes sizes). Replicas on brokers not in brokers are not counted.
func Measure(brokers []Broker, parts []Partition, opts Options) Loads {
	l := Loads{Replicas: map[int32]int64{}, Leaders: map[int32]int64{}}
	for _, b := range brokers {
		l.Replicas[b.ID], l.Leaders[b.ID] = 0, 0
	}
	for _, p := range parts {
		w := weight(p, opts)
		for i, r := range p.Replicas {
			if _, ok := l.Replicas[r]; !ok {
				continue
			}
			l.Replicas[r] += w
			if i == 0 {
				l.Leaders[r] += w
			}
		}
	}
	return l
}

func weight(p Partition, opts Options) int64 {
	if opts.ByBytes {
		return max(p.Bytes, 1)
	}
	return 1
}

// planner is the state of one Plan call.
type planner struct {
	opts    Options
	rack    map[int32]string
	ids     []int32 // brokers in id order
	nracks  int
	parts   []Partition // working copies of the assignments
	orig    [][]int32
	moved   []bool
	load    map[int32]int64 // replica load
	lead    map[int32]int64 // preferred-leader load
	weights []int64
}

// Plan returns the moves that balance parts over brokers, sorted by topic
// and partition; none when the assignment is already balanced. parts is not
// modified.
func Plan(brokers []Broker, parts []Partition, opts Options) []Move {
	pl := &planner{opts: opts, rack: map[int32]string{}, load: map[int32]int64{}, lead: map[int32]int64{}}
	racks := map[string]bool{}
	for _, b := range brokers {
		if _, dup := pl.rack[b.ID]; dup {
			continue
		}
		pl.rack[b.ID] = b.Rack
		racks[b.Rack] = true
		pl.ids = append(pl.ids, b.ID)
	}
	slices.Sort(pl.ids)
	pl.nracks = len(racks)
	for _, p := range parts {
		q := p
		q.Replicas = slices.Clone(p.Replicas)
		pl.parts = append(pl.parts, q)
		pl.orig = append(pl.orig, p.Replicas)
		pl.weights = append(pl.weights, weight(p, opts))
	}
	pl.moved = make([]bool, len(parts))
	l := Measure(brokers, parts, opts)
	pl.load, pl.lead = l.Replicas, l.Leaders

	pl.spreadRacks()
	// Bounded for safety: every step strictly lowers the sum of squared
	// loads, so the loops end well before.
	limit := 4*len(parts)*max(len(pl.ids), 1) + 16
	for i := 0; i < limit && pl.moveReplica(); i++ {
	}
	for i := 0; i < limit && pl.moveLeader(); i++ {
	}

	var out []Move
	for i, p := range pl.parts {
		if !slices.Equal(p.Replicas, pl.orig[i]) {
			out = append(out, Move{Topic: p.Topic, Partition: p.Partition, From: slices.Clone(pl.orig[i]), To: p.Replicas})
		}
	}
	slices.SortFunc(out, func(a, b Move) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return out
}

// known reports whether the plan may move replicas to and from broker b.
func (pl *planner) known(b int32) bool {
	_, ok := pl.rack[b]
	return ok
}

// distinctRacks counts the racks of replicas (a broker outside the plan
// counts as a rack of its own).
func (pl *planner) distinctRacks(replicas []int32) int {
	seen := map[string]bool{}
	for _, r := range replicas {
		if rk, ok := pl.rack[r]; ok {
			seen["r:"+rk] = true
		} else {
			seen["b:"+strconv.Itoa(int(r))] = true
		}
	}
	return len(seen)
}

// replace moves partition i's replica at position pos to broker to.
func (pl *planner) replace(i, pos int, to int32) {
	p := &pl.parts[i]
	from, w := p.Replicas[pos], pl.weights[i]
	pl.load[from] -= w
	pl.load[to] += w
	if pos == 0 {
		pl.lead[from] -= w
		pl.lead[to] += w
	}
	p.Replicas[pos] = to
	pl.moved[i] = !slices.Equal(p.Replicas, pl.orig[i])
}

// byLoad returns the brokers ordered by m, lightest first, ties by then (a
// broker heavier in then gives first), then by id.
func (pl *planner) byLoad(m, then map[int32]int64) []int32 {
	out := slices.Clone(pl.ids)
	slices.SortStableFunc(out, func(a, b int32) int { return cmp.Or(cmp.Compare(m[a], m[b]), cmp.Compare(then[a], then[b])) })
	return out
}

// spreadRacks moves replicas that share a rack with another replica of
// their partition to the lightest broker of a rack the partition does not
// use, while there is one.
func (pl *planner) spreadRacks() {
	if pl.nracks < 2 {
		return
	}
	for i := range pl.parts {
		for pl.distinctRacks(pl.parts[i].Replicas) < min(len(pl.parts[i].Replicas), pl.nracks) {
			reps := pl.parts[i].Replicas
			used := map[string]int{}
			for _, r := range reps {
				if pl.known(r) {
					used[pl.rack[r]]++
				}
			}
			// The duplicate to move: a follower before the leader,
			// the most loaded broker first.
			pos := -1
			for j := len(reps) - 1; j >= 0; j-- {
				r := reps[j]
				if !pl.known(r) || used[pl.rack[r]] < 2 {
					continue
				}
				if pos < 0 || (pos == 0 && j > 0) || (j > 0 && pl.load[r] > pl.load[reps[pos]]) {
					pos = j
				}
			}
			to := int32(-1)
			for _, b := range pl.byLoad(pl.load, pl.lead) {
				if used[pl.rack[b]] == 0 && !slices.Contains(reps, b) {
					to = b
					break
				}
			}
			if pos < 0 || to < 0 {
				break
			}
			pl.replace(i, pos, to)
		}
	}
}

// moveReplica makes the best single replica move from a heavier to a
// lighter broker that lowers the spread, and reports whether it made one.
func (pl *planner) moveReplica() bool {
	order := pl.byLoad(pl.load, pl.lead)
	for hi := len(order) - 1; hi > 0; hi-- {
		from := order[hi]
		for _, to := range order[:hi] {
			gap := pl.load[from] - pl.load[to]
			if gap <= 1 {
				break // lighter targets come first: none further helps
			}
			if i, pos := pl.pickReplica(from, to, gap); i >= 0 {
				pl.replace(i, pos, to)
				return true
			}
		}
	}
	return false
}

// pickReplica chooses a replica on from to move to to: its weight below gap
// (so the move lowers the sum of squared loads), to not hosting the
// partition, the partition's racks not fewer. Among those it prefers a
// partition already moved, then the leader's replica when the leadership
// should move the same way, else a follower's, then the heaviest; -1 if
// none.
func (pl *planner) pickReplica(from, to int32, gap int64) (idx, pos int) {
	idx, pos = -1, -1
	var best [3]int64
	for i, p := range pl.parts {
		w := pl.weights[i]
		if w >= gap || slices.Contains(p.Replicas, to) {
			continue
		}
		j := slices.Index(p.Replicas, from)
		if j < 0 {
			continue
		}
		after := slices.Clone(p.Replicas)
		after[j] = to
		if pl.distinctRacks(after) < pl.distinctRacks(p.Replicas) {
			continue
		}
		// Moving the leader's replica moves its preferred leadership too:
		// good when that evens the leader loads, bad when it spreads them.
		lead := int64(1)
		if j == 0 {
			lead = 2 * b2i(pl.lead[from]-pl.lead[to] > w)
		}
		score := [3]int64{b2i(pl.moved[i]), lead, w}
		if idx < 0 || slices.Compare(score[:], best[:]) > 0 {
			idx, pos, best = i, j, score
		}
	}
	return idx, pos
}

// moveLeader makes the best single preferred-leader change (a reorder of
// one partition's replicas) that lowers the spread of leader loads, and
// reports whether it made one.
func (pl *planner) moveLeader() bool {
	order := pl.byLoad(pl.lead, pl.load)
	for hi := len(order) - 1; hi > 0; hi-- {
		from := order[hi]
		for _, to := range order[:hi] {
			gap := pl.lead[from] - pl.lead[to]
			if gap <= 1 {
				break
			}
			idx, pos := -1, -1
			var best [2]int64
			for i, p := range pl.parts {
				w := pl.weights[i]
				if len(p.Replicas) == 0 || p.Replicas[0] != from || w >= gap {
					continue
				}
				j := slices.Index(p.Replicas, to)
				if j < 0 {
					continue
				}
				score := [2]int64{b2i(pl.moved[i]), w}
				if idx < 0 || slices.Compare(score[:], best[:]) > 0 {
					idx, pos, best = i, j, score
				}
			}
			if idx >= 0 {
				p := &pl.parts[idx]
				w := pl.weights[idx]
				p.Replicas[0], p.Replicas[pos] = p.Replicas[pos], p.Replicas[0]
				pl.lead[from] -= w
				pl.lead[to] += w
				pl.moved[idx] = !slices.Equal(p.Replicas, pl.orig[idx])
				return true
			}
		}
	}
	return false
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
