package raftbench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lni/dragonboat/v4"

	"github.com/chronik-io/chronik/internal/raftconf"
)

// cluster is the benchmark's NodeHosts: node i (1-based) is nhs[i-1] and
// holds replica i of every shard. Shard ids are 1..Shards.
type cluster struct {
	cfg Config
	log *slog.Logger
	nhs []*dragonboat.NodeHost
	// leader[s-1] is the node whose NodeHost shard s's proposals go to.
	leader []atomic.Uint64
}

// prepareDir returns the data directory of a run and whether to keep it.
func prepareDir(dir string) (string, bool, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "chronik-raftbench-")
		if err != nil {
			return "", false, fmt.Errorf("raftbench: temporary directory: %w", err)
		}
		return d, false, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, fmt.Errorf("raftbench: Dir %q: %w", dir, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", false, fmt.Errorf("raftbench: Dir %q: %w", dir, err)
	}
	if len(ents) > 0 {
		return "", false, fmt.Errorf("raftbench: Dir %q is not empty: every run starts from empty LogDBs", dir)
	}
	return dir, true, nil
}

// freeAddrs returns n distinct free TCP addresses on 127.0.0.1. They are
// free when returned; another process could take one before the NodeHost
// listens, which NewNodeHost then reports.
func freeAddrs(n int) ([]string, error) {
	addrs := make([]string, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("raftbench: find a free port: %w", err)
		}
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}

// startCluster starts the NodeHosts in dir and every replica of every
// shard, then waits for leaders and spreads them over the nodes. On error
// it closes whatever it started.
func startCluster(ctx context.Context, cfg Config, dir string, lg *slog.Logger) (*cluster, error) {
	addrs, err := freeAddrs(cfg.Nodes)
	if err != nil {
		return nil, err
	}
	c := &cluster{cfg: cfg, log: lg, leader: make([]atomic.Uint64, cfg.Shards)}
	members := map[uint64]string{}
	for i, a := range addrs {
		members[uint64(i+1)] = a
	}
	for i, a := range addrs {
		nhc := raftconf.NodeHost(filepath.Join(dir, fmt.Sprintf("node%d", i+1)), a, cfg.Raft)
		nh, err := dragonboat.NewNodeHost(nhc)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("raftbench: start NodeHost %d on %s: %w", i+1, a, err)
		}
		c.nhs = append(c.nhs, nh)
	}
	for s := 1; s <= cfg.Shards; s++ {
		for i, nh := range c.nhs {
			rc := raftconf.Replica(uint64(s), uint64(i+1), cfg.Raft)
			rc.Quiesce = cfg.Quiesce
			if err := nh.StartOnDiskReplica(members, false, newCounter, rc); err != nil {
				c.close()
				return nil, fmt.Errorf("raftbench: start shard %d on node %d: %w", s, i+1, err)
			}
		}
	}
	if err := c.placeLeaders(ctx); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// currentLeader returns the node that leads shard, as that node itself
// reports it.
func (c *cluster) currentLeader(shard uint64) (uint64, bool) {
	for _, nh := range c.nhs {
		id, _, ok, err := nh.GetLeaderID(shard)
		if err != nil || !ok || id < 1 || id > uint64(len(c.nhs)) {
			continue
		}
		if self, _, ok, err := c.nhs[id-1].GetLeaderID(shard); err == nil && ok && self == id {
			return id, true
		}
	}
	return 0, false
}

// placeLeaders waits for every shard to elect a leader and moves shard s's
// leadership to node (s-1)%Nodes+1, so that each node leads its share. A
// shard without a leader by StartTimeout is an error; one whose transfer
// has not finished by then keeps the leader it has.
func (c *cluster) placeLeaders(ctx context.Context) error {
	deadline := time.Now().Add(c.cfg.StartTimeout)
	asked := make([]time.Time, c.cfg.Shards)
	for {
		placed, leaderless := 0, 0
		for i := range c.cfg.Shards {
			shard, want := uint64(i+1), uint64(i%len(c.nhs)+1)
			l, ok := c.currentLeader(shard)
			switch {
			case !ok:
				leaderless++
				continue
			case l == want:
				placed++
			case time.Since(asked[i]) > time.Second:
				// A transfer asked of a leader that has not yet committed
				// an entry of its term is ignored; ask again later.
				_ = c.nhs[l-1].RequestLeaderTransfer(shard, want)
				asked[i] = time.Now()
			}
			c.leader[i].Store(l)
		}
		if placed == c.cfg.Shards {
			return nil
		}
		if time.Now().After(deadline) {
			if leaderless > 0 {
				return fmt.Errorf("raftbench: %d of %d shards have no leader after StartTimeout %s", leaderless, c.cfg.Shards, c.cfg.StartTimeout)
			}
			c.log.Warn("leader transfers unfinished; those shards keep their leader", "placed", placed, "shards", c.cfg.Shards)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("raftbench: starting: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// refreshLeader points shard's proposals at its current leader, if one is
// known.
func (c *cluster) refreshLeader(shard uint64) {
	l, ok := c.currentLeader(shard)
	if !ok {
		return
	}
	if old := c.leader[shard-1].Swap(l); old != l {
		c.log.Warn("shard leader moved", "shard", shard, "from", old, "to", l)
	}
}

// leadersPerNode counts the shards each node's NodeHost receives
// proposals for.
func (c *cluster) leadersPerNode() []int {
	n := make([]int, len(c.nhs))
	for i := range c.leader {
		if l := c.leader[i].Load(); l >= 1 && int(l) <= len(n) {
			n[l-1]++
		}
	}
	return n
}

// lagging waits up to wait for every replica of every shard to have
// applied as many entries as the shard's leader, and describes those that
// have not.
func (c *cluster) lagging(wait time.Duration) []string {
	deadline := time.Now().Add(wait)
	var out []string
	for i := range c.leader {
		shard := uint64(i + 1)
		for {
			behind := c.behind(shard)
			if len(behind) == 0 || time.Now().After(deadline) {
				out = append(out, behind...)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return out
}

// behind describes the replicas of shard whose count differs from that of
// the leader.
func (c *cluster) behind(shard uint64) []string {
	l := c.leader[shard-1].Load()
	want, err := c.appliedOn(l, shard)
	if err != nil {
		return []string{fmt.Sprintf("shard %d leader node %d: %v", shard, l, err)}
	}
	var out []string
	for node := uint64(1); node <= uint64(len(c.nhs)); node++ {
		if node == l {
			continue
		}
		got, err := c.appliedOn(node, shard)
		switch {
		case err != nil:
			out = append(out, fmt.Sprintf("shard %d node %d: %v", shard, node, err))
		case got != want:
			out = append(out, fmt.Sprintf("shard %d node %d: %s of %s entries", shard, node, commas(int64(got.Entries)), commas(int64(want.Entries))))
		}
	}
	return out
}

func (c *cluster) appliedOn(node, shard uint64) (applied, error) {
	v, err := c.nhs[node-1].StaleRead(shard, nil)
	if err != nil {
		return applied{}, err
	}
	a, ok := v.(applied)
	if !ok {
		return applied{}, errors.New("unexpected state machine")
	}
	return a, nil
}

// close stops every NodeHost, in parallel.
func (c *cluster) close() {
	var wg sync.WaitGroup
	for _, nh := range c.nhs {
		wg.Go(nh.Close)
	}
	wg.Wait()
}
