package kafka

// Loading a __consumer_offsets partition on becoming its leader, and offset
// retention.
//
// A new leader's applied log may lag entries committed in the previous
// term, so the coordinator first writes a load marker: once the marker is
// committed and applied in the new term, every earlier record is applied
// too. The log is then replayed from its start up to the marker (last
// record of a key wins, tombstones delete), groups are rebuilt (a group
// stored as Stable resumes its generation, members' sessions start anew) and
// only then does the partition answer requests: COORDINATOR_LOAD_IN_PROGRESS
// meanwhile.

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// load replays the partition, retrying until it succeeds or leadership is lost.
func (cp *coordPartition) load() {
	start := time.Now()
	for {
		n, err := cp.replay()
		if err == nil {
			cp.c.log.Info("partition loaded", "partition", cp.p, "epoch", cp.epoch, "records", n, "took", time.Since(start))
			close(cp.loaded)
			return
		}
		if cp.ctx.Err() != nil {
			return
		}
		cp.c.log.Warn("loading partition failed; retrying", "partition", cp.p, "err", err)
		select {
		case <-cp.ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// replay reads the partition up to a fresh load marker and installs the groups.
func (cp *coordPartition) replay() (int, error) {
	be := cp.c.be
	ctx := cp.ctx
	mctx, cancel := newTimeout(ctx, 10*time.Second)
	res, err := be.Produce(mctx, OffsetsTopic, cp.p, []engine.Record{loadMarkerRecord()})
	cancel()
	if err != nil {
		return 0, fmt.Errorf("write load marker: %w", err)
	}
	end := res.BaseOffset
	lo, err := be.ListOffsets(ctx, OffsetsTopic, cp.p, engine.Earliest)
	if err != nil {
		return 0, fmt.Errorf("log start: %w", err)
	}
	st := newLoadState()
	live := map[string][]byte{}
	n := 0
	for off := lo.Offset; off < end; {
		fr, err := be.Fetch(ctx, OffsetsTopic, cp.p, off, engine.FetchOptions{MaxBytes: 4 << 20})
		if err != nil {
			return n, fmt.Errorf("read at offset %d: %w", off, err)
		}
		recs, err := fr.Records()
		if err != nil {
			return n, fmt.Errorf("decode at offset %d: %w", off, err)
		}
		if len(recs) == 0 {
			return n, fmt.Errorf("no records at offset %d below the load marker at %d", off, end)
		}
		for _, rec := range recs {
			if rec.Offset < off || rec.Offset >= end {
				continue
			}
			sr, err := decodeStoredRecord(rec.Key, rec.Value)
			if err != nil {
				cp.c.log.Warn("skipping undecodable record", "partition", cp.p, "offset", rec.Offset, "err", err)
				continue
			}
			st.apply(sr)
			if sr.kind != recLoadMarker {
				if sr.tombstone {
					delete(live, string(rec.Key))
				} else {
					live[string(rec.Key)] = rec.Value
				}
			}
			n++
		}
		off = recs[len(recs)-1].Offset + 1
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if cp.ctx.Err() != nil {
		return n, cp.ctx.Err()
	}
	cp.liveMu.Lock()
	cp.live, cp.written = live, n
	cp.liveMu.Unlock()
	for name, ls := range st.groups {
		g := newGroup(cp, name)
		g.offsets = ls.offsets
		if ls.meta != nil {
			g.restore(ls.meta)
		}
		if ls.meta == nil && len(g.offsets) == 0 {
			continue
		}
		cp.groups[name] = g
	}
	return n, nil
}

type loadedGroup struct {
	meta    *kmsg.GroupMetadataValue
	offsets map[topicPartition]offsetCommit
}

type loadState struct{ groups map[string]*loadedGroup }

func newLoadState() *loadState { return &loadState{groups: map[string]*loadedGroup{}} }

func (s *loadState) get(name string) *loadedGroup {
	g := s.groups[name]
	if g == nil {
		g = &loadedGroup{offsets: map[topicPartition]offsetCommit{}}
		s.groups[name] = g
	}
	return g
}

// apply folds one record into the state: the last record of a key wins.
func (s *loadState) apply(r storedRecord) {
	switch r.kind {
	case recOffsetKeyV1:
		g := s.get(r.group)
		tp := topicPartition{r.topic, r.partition}
		if r.tombstone {
			delete(g.offsets, tp)
			return
		}
		g.offsets[tp] = offsetCommit{offset: r.offset.Offset, leaderEpoch: r.offset.LeaderEpoch,
			metadata: r.offset.Metadata, committed: time.UnixMilli(r.offset.CommitTimestamp)}
	case recGroupKey:
		if r.tombstone {
			delete(s.groups, r.group)
			return
		}
		s.get(r.group).meta = r.meta
	}
}

// restore rebuilds a group from its stored metadata: with members it is
// Stable at the stored generation (members keep their assignments and must
// heartbeat within their session timeout), else Empty.
func (g *group) restore(v *kmsg.GroupMetadataValue) {
	g.protocolType = v.ProtocolType
	g.generation = v.Generation
	if v.Protocol != nil {
		g.protocol = *v.Protocol
	}
	if v.Leader != nil {
		g.leader = *v.Leader
	}
	g.stateTime = time.UnixMilli(v.CurrentStateTimestamp)
	if len(v.Members) == 0 || g.protocol == "" {
		g.state = groupEmpty
		g.leader = ""
		return
	}
	g.state = groupStable
	for _, vm := range v.Members {
		join := kmsg.NewPtrJoinGroupRequest()
		join.Group, join.MemberID, join.InstanceID, join.ProtocolType = g.name, vm.MemberID, vm.InstanceID, v.ProtocolType
		join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = vm.SessionTimeoutMillis, vm.RebalanceTimeoutMillis
		if join.RebalanceTimeoutMillis <= 0 {
			join.RebalanceTimeoutMillis = vm.SessionTimeoutMillis
		}
		join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: g.protocol, Metadata: vm.Subscription}}
		m := &member{id: vm.MemberID, instanceID: vm.InstanceID, clientID: vm.ClientID, clientHost: vm.ClientHost,
			join: join, assignment: vm.Assignment}
		g.members[m.id] = m
		g.protocols[g.protocol]++
		if m.instanceID != nil {
			g.static[*m.instanceID] = m.id
		}
		g.heartbeat(m)
	}
}

// expireOffsets deletes the offsets of groups that have been empty for
// longer than OffsetsRetention (measured from the later of the group
// becoming empty and the offset's commit), and then the groups left with
// nothing.
func (c *coordinator) expireOffsets(now time.Time) {
	for _, cp := range c.loadedPartitions() {
		cp.mu.Lock()
		groups := make([]*group, 0, len(cp.groups))
		for _, g := range cp.groups {
			groups = append(groups, g)
		}
		cp.mu.Unlock()
		for _, g := range groups {
			g.mu.Lock()
			if !g.dead {
				g.expire(now, c.cfg.OffsetsRetention)
			}
			g.mu.Unlock()
		}
	}
}

func (g *group) expire(now time.Time, retention time.Duration) {
	if g.state != groupEmpty || len(g.members) > 0 || len(g.pending) > 0 {
		return
	}
	var recs []engine.Record
	var del []topicPartition
	for tp, oc := range g.offsets {
		from := oc.committed
		if g.protocolType != "" && g.stateTime.After(from) {
			from = g.stateTime
		}
		if now.Sub(from) >= retention {
			recs = append(recs, offsetRecord(g.name, tp.topic, tp.partition, nil))
			del = append(del, tp)
		}
	}
	if len(del) == len(g.offsets) {
		if g.tombstone() != nil {
			return
		}
		g.cp.c.log.Info("expired group", "group", g.name, "offsets", len(del))
		return
	}
	if len(recs) == 0 {
		return
	}
	if err := g.cp.write(recs...); err != nil {
		g.cp.c.log.Warn("expire offsets failed", "group", g.name, "err", err)
		return
	}
	for _, tp := range del {
		delete(g.offsets, tp)
	}
	g.cp.c.log.Info("expired offsets", "group", g.name, "offsets", len(del))
}
