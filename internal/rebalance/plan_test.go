package rebalance

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func brokers(racks ...string) []Broker {
	var out []Broker
	for i, r := range racks {
		out = append(out, Broker{ID: int32(i + 1), Rack: r})
	}
	return out
}

// parts builds partitions p0, p1, ... of topic "t" from replica lists.
func parts(replicas ...[]int32) []Partition {
	var out []Partition
	for i, r := range replicas {
		out = append(out, Partition{Topic: "t", Partition: int32(i), Replicas: r})
	}
	return out
}

func r(ids ...int32) []int32 { return ids }

// apply returns parts with the moves applied.
func apply(ps []Partition, moves []Move) []Partition {
	out := slices.Clone(ps)
	for _, m := range moves {
		for i := range out {
			if out[i].Topic == m.Topic && out[i].Partition == m.Partition {
				out[i].Replicas = m.To
			}
		}
	}
	return out
}

func spread(m map[int32]int64) int64 {
	lo, hi := int64(-1), int64(0)
	for _, v := range m {
		if lo < 0 || v < lo {
			lo = v
		}
		hi = max(hi, v)
	}
	return hi - lo
}

// TestPlan checks the plans for imbalances: the number of partitions moved
// (the minimum for each case), the spread of replica and leader loads
// after, and the invariants every plan keeps.
func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		name     string
		brokers  []Broker
		parts    []Partition
		opts     Options
		moves    int   // partitions moved
		dataMov  int   // of those, moves that copy data (not leader-only)
		maxRepl  int64 // largest spread of replica loads after
		maxLead  int64 // largest spread of leader loads after
		wantRack bool  // every partition in min(RF, racks) distinct racks after
	}{
		{name: "balanced: nothing to do", brokers: brokers("", "", ""),
			parts: parts(r(1, 2), r(2, 3), r(3, 1)), moves: 0, maxRepl: 0, maxLead: 0},
		{name: "empty cluster", brokers: brokers("", ""), moves: 0},
		{name: "RF 1 all on broker 1", brokers: brokers("", "", ""),
			parts: parts(r(1), r(1), r(1), r(1), r(1), r(1)), moves: 4, dataMov: 4, maxRepl: 0, maxLead: 0},
		{name: "new empty broker takes its share", brokers: brokers("", "", "", ""),
			parts: parts(r(1, 2, 3), r(2, 3, 1), r(3, 1, 2), r(1, 2, 3)), moves: 3, dataMov: 3, maxRepl: 0, maxLead: 1},
		{name: "leaders only: reorders, no data moves", brokers: brokers("", "", ""),
			parts: parts(r(1, 2, 3), r(1, 3, 2), r(1, 2, 3)), moves: 2, dataMov: 0, maxRepl: 0, maxLead: 0},
		{name: "odd count: spread at most 1", brokers: brokers("", "", ""),
			parts: parts(r(1, 2), r(1, 2), r(1, 2), r(1, 2), r(1, 2)), moves: 4, dataMov: 3, maxRepl: 1, maxLead: 1},
		{name: "RF equals brokers: only leaders move", brokers: brokers("", "", ""),
			parts: parts(r(1, 2, 3), r(1, 2, 3), r(1, 2, 3)), moves: 2, dataMov: 0, maxRepl: 0, maxLead: 0},
		{name: "racks: replicas split over racks", brokers: brokers("a", "a", "b", "b"),
			parts: parts(r(1, 2), r(3, 4), r(1, 3), r(2, 4)), moves: 2, dataMov: 2, maxRepl: 0, maxLead: 0, wantRack: true},
		// Brokers 1 and 2 are alone in their racks, so each holds a
		// replica of every partition; 3 and 4 share rack c's.
		{name: "racks: balance never puts two replicas in one rack", brokers: brokers("a", "b", "c", "c"),
			parts: parts(r(1, 2, 3), r(2, 3, 1), r(3, 1, 2), r(1, 2, 3)), moves: 2, dataMov: 2, maxRepl: 2, maxLead: 1, wantRack: true},
		{name: "by bytes: one big partition weighs many small", brokers: brokers("", ""), opts: Options{ByBytes: true},
			parts: []Partition{{Topic: "t", Partition: 0, Replicas: r(1), Bytes: 100}, {Topic: "t", Partition: 1, Replicas: r(1), Bytes: 50},
				{Topic: "t", Partition: 2, Replicas: r(1), Bytes: 50}},
			moves: 1, dataMov: 1, maxRepl: 0, maxLead: 0},
		{name: "by count ignores sizes", brokers: brokers("", ""),
			parts: []Partition{{Topic: "t", Partition: 0, Replicas: r(1), Bytes: 100}, {Topic: "t", Partition: 1, Replicas: r(2), Bytes: 1}},
			moves: 0, maxRepl: 0, maxLead: 0},
		{name: "replica on an unknown broker stays", brokers: brokers("", ""),
			parts: parts(r(9, 1), r(9, 1)), moves: 1, dataMov: 1, maxRepl: 0, maxLead: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.parts)
			for i := range in {
				in[i].Replicas = slices.Clone(in[i].Replicas)
			}
			moves := Plan(tc.brokers, tc.parts, tc.opts)
			for i := range in {
				if !slices.Equal(in[i].Replicas, tc.parts[i].Replicas) {
					t.Fatalf("Plan modified its input: %v", tc.parts[i].Replicas)
				}
			}
			data := 0
			for _, m := range moves {
				if !m.LeaderOnly() {
					data++
				}
			}
			if len(moves) != tc.moves || data != tc.dataMov {
				t.Errorf("%d moves (%d copying data), want %d (%d): %v", len(moves), data, tc.moves, tc.dataMov, moves)
			}
			after := apply(tc.parts, moves)
			l := Measure(tc.brokers, after, tc.opts)
			if s := spread(l.Replicas); s > tc.maxRepl {
				t.Errorf("replica loads %v after: spread %d, want <= %d (moves %v)", l.Replicas, s, tc.maxRepl, moves)
			}
			if s := spread(l.Leaders); s > tc.maxLead {
				t.Errorf("leader loads %v after: spread %d, want <= %d (moves %v)", l.Leaders, s, tc.maxLead, moves)
			}
			pl := &planner{rack: map[int32]string{}}
			racks := map[string]bool{}
			for _, b := range tc.brokers {
				pl.rack[b.ID] = b.Rack
				racks[b.Rack] = true
			}
			for i, p := range after {
				seen := map[int32]bool{}
				for _, b := range p.Replicas {
					if seen[b] {
						t.Errorf("partition %d: broker %d twice in %v", p.Partition, b, p.Replicas)
					}
					seen[b] = true
				}
				if len(p.Replicas) != len(tc.parts[i].Replicas) {
					t.Errorf("partition %d: replication factor changed: %v", p.Partition, p.Replicas)
				}
				if tc.wantRack && pl.distinctRacks(p.Replicas) < min(len(p.Replicas), len(racks)) {
					t.Errorf("partition %d: replicas %v share a rack", p.Partition, p.Replicas)
				}
			}
			if again := Plan(tc.brokers, after, tc.opts); len(again) != 0 {
				t.Errorf("a second plan on the result moves more: %v", again)
			}
		})
	}
}

// TestPlanLarge balances 60 partitions of RF 3 that sit on 3 of 6 brokers in
// 3 racks, and checks the moves stay near the minimum.
func TestPlanLarge(t *testing.T) {
	bs := brokers("a", "b", "c", "a", "b", "c")
	var ps []Partition
	for i := 0; i < 60; i++ {
		ps = append(ps, Partition{Topic: fmt.Sprint("t", i%3), Partition: int32(i / 3), Replicas: r(int32(1+i%3), int32(1+(i+1)%3), int32(1+(i+2)%3))})
	}
	moves := Plan(bs, ps, Options{})
	after := apply(ps, moves)
	l := Measure(bs, after, Options{})
	if s := spread(l.Replicas); s > 1 {
		t.Errorf("replica loads %v", l.Replicas)
	}
	if s := spread(l.Leaders); s > 1 {
		t.Errorf("leader loads %v", l.Leaders)
	}
	// 180 replicas over 6 brokers: exactly 90 must move to brokers 4-6, in
	// at least 30 partitions (3 replicas each at most).
	copies := 0
	for _, m := range moves {
		for _, b := range m.To {
			if !slices.Contains(m.From, b) {
				copies++
			}
		}
	}
	if copies != 90 || len(moves) != 30 {
		t.Errorf("%d partitions moved, %d replicas copied; want 30 and 90", len(moves), copies)
	}
	rack := map[int32]string{}
	for _, b := range bs {
		rack[b.ID] = b.Rack
	}
	for _, p := range after {
		if len(p.Replicas) != 3 || rack[p.Replicas[0]] == rack[p.Replicas[1]] || rack[p.Replicas[1]] == rack[p.Replicas[2]] ||
			rack[p.Replicas[0]] == rack[p.Replicas[2]] {
			t.Fatalf("partition %s/%d: replicas %v not in 3 racks", p.Topic, p.Partition, p.Replicas)
		}
	}
}

// TestPlanRandom plans random assignments (fixed seed) and checks the
// invariants: no broker twice in a partition, replication factors kept, no
// partition in fewer racks, spreads not larger than before, and nothing left
// to do on the result.
func TestPlanRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 300; n++ {
		nb := 2 + rng.IntN(6)
		var bs []Broker
		nracks := rng.IntN(4) // 0: no racks
		for i := 1; i <= nb; i++ {
			b := Broker{ID: int32(i)}
			if nracks > 0 {
				b.Rack = fmt.Sprint("r", rng.IntN(nracks))
			}
			bs = append(bs, b)
		}
		opts := Options{ByBytes: rng.IntN(3) == 0}
		var ps []Partition
		for i := rng.IntN(40); i >= 0; i-- {
			rf := 1 + rng.IntN(min(3, nb))
			// Skewed: low broker ids are likelier.
			var reps []int32
			for len(reps) < rf {
				if b := int32(1 + min(rng.IntN(nb), rng.IntN(nb))); !slices.Contains(reps, b) {
					reps = append(reps, b)
				}
			}
			ps = append(ps, Partition{Topic: "t", Partition: int32(len(ps)), Replicas: reps, Bytes: rng.Int64N(1000)})
		}
		pl := &planner{rack: map[int32]string{}}
		for _, b := range bs {
			pl.rack[b.ID] = b.Rack
		}
		moves := Plan(bs, ps, opts)
		after := apply(ps, moves)
		for i, p := range after {
			seen := map[int32]bool{}
			for _, b := range p.Replicas {
				if seen[b] {
					t.Fatalf("case %d: partition %d: broker %d twice in %v", n, i, b, p.Replicas)
				}
				seen[b] = true
			}
			if len(p.Replicas) != len(ps[i].Replicas) {
				t.Fatalf("case %d: partition %d: %v from %v", n, i, p.Replicas, ps[i].Replicas)
			}
			if pl.distinctRacks(p.Replicas) < pl.distinctRacks(ps[i].Replicas) {
				t.Fatalf("case %d: partition %d: fewer racks in %v than %v", n, i, p.Replicas, ps[i].Replicas)
			}
		}
		lb, la := Measure(bs, ps, opts), Measure(bs, after, opts)
		if spread(la.Replicas) > spread(lb.Replicas) && nracks == 0 {
			t.Fatalf("case %d: replica spread %d from %d", n, spread(la.Replicas), spread(lb.Replicas))
		}
		if again := Plan(bs, after, opts); len(again) != 0 {
			t.Fatalf("case %d: a second plan moves more: %v", n, again)
		}
	}
}
