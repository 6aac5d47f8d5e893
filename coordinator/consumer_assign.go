package coordinator

// KIP-848 assignment: the subscribed topics, the target assignment of the
// server-side assignors (uniform, range), and reconciliation, which moves
// one member towards its target without ever letting two members own a
// partition (Kafka's CurrentAssignmentBuilder).

import (
	"slices"
	"sort"
	"time"
)

// topicsCheckInterval bounds how often a group's subscribed topics are
// compared with the cluster's metadata when nothing else changed.
const topicsCheckInterval = time.Second

// refreshTopics compares the subscribed topics (names and regexes against
// the cluster's topics) and their partition counts with those the target
// assignment saw; a difference bumps the group epoch, so that new topics
// and partitions are assigned at the members' next heartbeats.
func (g *group) refreshTopics(force bool) {
	cg := g.consumer
	now := time.Now()
	if !force && now.Sub(cg.checkedAt) < topicsCheckInterval {
		return
	}
	cg.checkedAt = now
	topics := g.consumerTopics()
	if !slices.Equal(topics, cg.topics) {
		cg.topics = topics
		cg.epoch++
	}
}

// consumerTopics resolves every member's subscription against the
// cluster's topics, sorted by name.
func (g *group) consumerTopics() []topicMeta {
	all := g.cp.c.topicsView()
	want := map[string]bool{}
	for _, m := range g.consumer.members {
		for _, t := range m.meta.topics {
			want[t] = true
		}
		if m.re != nil {
			for _, t := range all {
				if m.re.MatchString(t.name) {
					want[t.name] = true
				}
			}
		}
	}
	var out []topicMeta
	for _, t := range all { // sorted by name
		if want[t.name] && t.partitions > 0 {
			out = append(out, t)
		}
	}
	return out
}

// subscribes reports whether m subscribes to topic.
func (m *cmember) subscribes(topic string) bool {
	if _, ok := slices.BinarySearch(m.meta.topics, topic); ok {
		return true
	}
	return m.re != nil && m.re.MatchString(topic)
}

// groupAssignor is the assignor the most members ask for (ties: by name),
// uniform if none asks.
func (cg *consumerGroup) groupAssignor() string {
	votes := map[string]int{}
	for _, m := range cg.members {
		if m.meta.assignor != nil {
			votes[*m.meta.assignor]++
		}
	}
	best, n := "uniform", 0
	for a, v := range votes {
		if v > n || (v == n && a < best) {
			best, n = a, v
		}
	}
	return best
}

// computeTarget recomputes every member's target assignment at the group
// epoch.
func (g *group) computeTarget() {
	cg := g.consumer
	cg.assignmentEpoch = cg.epoch
	if len(cg.members) == 0 {
		return
	}
	ids := make([]string, 0, len(cg.members))
	for id := range cg.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if cg.groupAssignor() == "range" {
		assignRange(cg, ids)
	} else {
		assignUniform(cg, ids)
	}
}

// assignRange gives, per topic, each subscribed member a contiguous range
// of partitions: members sorted with static members first (by instance
// id, so a restarted member keeps its range), the first ones one more
// when the partitions do not divide evenly.
func assignRange(cg *consumerGroup, ids []string) {
	sort.SliceStable(ids, func(i, j int) bool {
		a, b := cg.members[ids[i]].meta.instanceID, cg.members[ids[j]].meta.instanceID
		switch {
		case a != nil && b != nil:
			return *a < *b
		case a != nil || b != nil:
			return a != nil
		}
		return ids[i] < ids[j]
	})
	for _, id := range ids {
		cg.members[id].target = assignment{}
	}
	for _, t := range cg.topics {
		var subs []*cmember
		for _, id := range ids {
			if m := cg.members[id]; m.subscribes(t.name) {
				subs = append(subs, m)
			}
		}
		if len(subs) == 0 {
			continue
		}
		quota, extra := int(t.partitions)/len(subs), int(t.partitions)%len(subs)
		next := int32(0)
		for i, m := range subs {
			n := quota
			if i < extra {
				n++
			}
			for k := 0; k < n; k++ {
				m.target[t.id] = append(m.target[t.id], next)
				next++
			}
		}
	}
}

// assignUniform spreads partitions evenly and stickily: a member keeps the
// targets it still subscribes to up to its fair share, and the rest go to
// the least loaded members subscribing to them.
func assignUniform(cg *consumerGroup, ids []string) {
	type tp struct {
		t *topicMeta
		p int32
	}
	var all []tp
	for i := range cg.topics {
		for p := int32(0); p < cg.topics[i].partitions; p++ {
			all = append(all, tp{&cg.topics[i], p})
		}
	}
	byID := map[[16]byte]*topicMeta{}
	for i := range cg.topics {
		byID[cg.topics[i].id] = &cg.topics[i]
	}
	// Each member's fair share: with N partitions over M members,
	// floor(N/M), the first N%M (by current load) one more.
	count := map[string]int{}
	taken := map[topicPartitionID]bool{}
	for _, id := range ids {
		m := cg.members[id]
		kept := assignment{}
		for _, tid := range m.target.sortedIDs() {
			t := byID[tid]
			if t == nil || !m.subscribes(t.name) {
				continue
			}
			for _, p := range m.target[tid] {
				k := topicPartitionID{tid, p}
				if p < t.partitions && !taken[k] {
					kept[tid] = append(kept[tid], p)
					taken[k] = true
					count[id]++
				}
			}
		}
		m.target = kept
	}
	order := slices.Clone(ids)
	sort.SliceStable(order, func(i, j int) bool { return count[order[i]] > count[order[j]] })
	share, extra := len(all)/len(ids), len(all)%len(ids)
	for i, id := range order {
		allowed := share
		if i < extra {
			allowed++
		}
		m := cg.members[id]
		for excess := count[id] - allowed; excess > 0; {
			for _, tid := range m.target.sortedIDs() {
				if excess == 0 {
					break
				}
				ps := m.target[tid]
				drop := min(excess, len(ps))
				for _, p := range ps[len(ps)-drop:] {
					delete(taken, topicPartitionID{tid, p})
				}
				if ps = ps[:len(ps)-drop]; len(ps) == 0 {
					delete(m.target, tid)
				} else {
					m.target[tid] = ps
				}
				count[id] -= drop
				excess -= drop
			}
		}
	}
	for _, x := range all {
		k := topicPartitionID{x.t.id, x.p}
		if taken[k] {
			continue
		}
		var best *cmember
		for _, id := range ids {
			m := cg.members[id]
			if m.subscribes(x.t.name) && (best == nil || count[id] < count[best.id]) {
				best = m
			}
		}
		if best == nil {
			continue
		}
		best.target[k.id] = append(best.target[k.id], k.p)
		count[best.id]++
		taken[k] = true
	}
	for _, id := range ids {
		for _, ps := range cg.members[id].target {
			slices.Sort(ps)
		}
	}
}

// reconcile moves m towards its target (Kafka's CurrentAssignmentBuilder):
// partitions it must give up are first revoked (UNREVOKED_PARTITIONS, the
// epoch stays) until its heartbeat no longer reports them; then it moves
// to the assignment epoch and gets the target partitions that are free,
// waiting (UNRELEASED_PARTITIONS) for those another member still owns.
// owned is what the member reported owning (nil: not reported).
func (g *group) reconcile(m *cmember, owned assignment, subscriptionChanged bool) {
	cg := g.consumer
	if m.epoch == epochStaticLeave {
		return
	}
	before := m.cgCurrent
	switch m.state {
	case memberStable:
		if m.epoch != cg.assignmentEpoch {
			g.nextAssignment(m, owned)
		} else if subscriptionChanged {
			g.dropUnsubscribed(m, owned)
		}
	case memberUnrevoked:
		if owned != nil && !owned.overlaps(m.pending) {
			g.nextAssignment(m, owned)
		} else if subscriptionChanged {
			g.dropUnsubscribed(m, owned)
		}
	case memberUnreleased:
		g.nextAssignment(m, owned)
	}
	if m.state == memberUnrevoked && (before.state != memberUnrevoked || before.epoch != m.epoch || !sameAssignment(before.pending, m.pending)) {
		g.rebalanceTimer(m)
	} else if m.state != memberUnrevoked {
		g.stopTimer(&m.rebalance)
	}
}

// nextAssignment is CurrentAssignmentBuilder.computeNextAssignment.
func (g *group) nextAssignment(m *cmember, owned assignment) {
	cg := g.consumer
	keep, revoke, add := assignment{}, assignment{}, assignment{}
	unreleased := false
	ids := map[[16]byte]bool{}
	for id := range m.assigned {
		ids[id] = true
	}
	for id := range m.target {
		ids[id] = true
	}
	for id := range ids {
		target := m.target[id]
		for _, p := range m.assigned[id] {
			if slices.Contains(target, p) {
				keep[id] = append(keep[id], p)
			} else {
				revoke[id] = append(revoke[id], p)
			}
		}
		for _, p := range target {
			if slices.Contains(m.assigned[id], p) {
				continue
			}
			if owner, ok := cg.owners[id][p]; ok && owner != m.id {
				unreleased = true
				continue
			}
			add[id] = append(add[id], p)
		}
	}
	g.release(m)
	switch {
	case len(revoke) > 0 && (owned == nil || owned.overlaps(revoke)):
		m.state = memberUnrevoked
		m.assigned, m.pending = keep, revoke
	case len(add) > 0:
		m.state = memberStable
		if unreleased {
			m.state = memberUnreleased
		}
		for id, ps := range add {
			keep[id] = append(keep[id], ps...)
			slices.Sort(keep[id])
			for _, p := range ps {
				m.assignedAt[topicPartitionID{id, p}] = cg.assignmentEpoch
			}
		}
		m.setEpoch(cg.assignmentEpoch)
		m.assigned, m.pending = keep, assignment{}
	default:
		m.state = memberStable
		if unreleased {
			m.state = memberUnreleased
		}
		m.setEpoch(cg.assignmentEpoch)
		m.assigned, m.pending = keep, assignment{}
	}
	g.claim(m)
	for k := range m.assignedAt {
		if !slices.Contains(m.assigned[k.id], k.p) && !slices.Contains(m.pending[k.id], k.p) {
			delete(m.assignedAt, k)
		}
	}
}

func (m *cmember) setEpoch(e int32) {
	if m.epoch != e {
		m.prevEpoch, m.epoch = m.epoch, e
	}
}

// dropUnsubscribed revokes, without an epoch change, the partitions of
// topics m no longer subscribes to (CurrentAssignmentBuilder's
// updateCurrentAssignment).
func (g *group) dropUnsubscribed(m *cmember, owned assignment) {
	keep, revoke := assignment{}, assignment{}
	names := map[[16]byte]string{}
	for _, t := range g.cp.c.topicsView() {
		names[t.id] = t.name
	}
	for id, ps := range m.assigned {
		if name, ok := names[id]; ok && m.subscribes(name) {
			keep[id] = ps
		} else {
			revoke[id] = ps
		}
	}
	if len(revoke) == 0 {
		return
	}
	g.release(m)
	for id, ps := range m.pending {
		revoke[id] = append(revoke[id], ps...)
		slices.Sort(revoke[id])
	}
	m.assigned, m.pending = keep, revoke
	if owned == nil || owned.overlaps(revoke) {
		m.state = memberUnrevoked
	}
	g.claim(m)
}

// release frees the partitions m owns in the owners table; claim takes
// them again from its current assigned and pending sets.
func (g *group) release(m *cmember) {
	cg := g.consumer
	for _, a := range []assignment{m.assigned, m.pending} {
		for id, ps := range a {
			for _, p := range ps {
				if cg.owners[id][p] == m.id {
					delete(cg.owners[id], p)
				}
			}
			if len(cg.owners[id]) == 0 {
				delete(cg.owners, id)
			}
		}
	}
}

func (g *group) claim(m *cmember) {
	cg := g.consumer
	for _, a := range []assignment{m.assigned, m.pending} {
		for id, ps := range a {
			if cg.owners[id] == nil {
				cg.owners[id] = map[int32]string{}
			}
			for _, p := range ps {
				cg.owners[id][p] = m.id
			}
		}
	}
}

// overlaps reports whether a and b share a partition.
func (a assignment) overlaps(b assignment) bool {
	for id, ps := range b {
		for _, p := range ps {
			if slices.Contains(a[id], p) {
				return true
			}
		}
	}
	return false
}

// subsetOf reports whether every partition of a is in b.
func (a assignment) subsetOf(b assignment) bool {
	for id, ps := range a {
		for _, p := range ps {
			if !slices.Contains(b[id], p) {
				return false
			}
		}
	}
	return true
}

func (a assignment) count() int {
	n := 0
	for _, ps := range a {
		n += len(ps)
	}
	return n
}

func sameAssignment(a, b assignment) bool {
	if a.count() != b.count() {
		return false
	}
	return a.subsetOf(b)
}
