package compat

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
	"github.com/chronik-io/chronik/kafka"
)

// killableCluster is an n-node chronik (engines and Kafka servers in this
// process, PLAINTEXT listeners) whose nodes a test can crash.
type killableCluster struct {
	t       *testing.T
	cl      *testcluster.Cluster
	brokers []string

	groups kafka.GroupConfig

	mu      sync.Mutex
	servers map[int]*kafka.Server
}

// startKillableCluster starts a killableCluster, closed at t's cleanup.
// groups configures the group coordinators.
func startKillableCluster(t *testing.T, n int, groups kafka.GroupConfig) *killableCluster {
	t.Helper()
	lns := map[uint64]net.Listener{}
	addrs := map[uint64]string{}
	for i := 1; i <= n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[uint64(i)], addrs[uint64(i)] = ln, ln.Addr().String()
	}
	kc := &killableCluster{t: t, servers: map[int]*kafka.Server{}, groups: groups}
	kc.cl = testcluster.New(t, n, testcluster.WithConfig(func(c *engine.Config) { c.KafkaAddr, c.LogDB = addrs[c.NodeID], logDB() }))
	for i := 1; i <= n; i++ {
		kc.brokers = append(kc.brokers, addrs[uint64(i)])
		kc.serve(i, lns[uint64(i)])
	}
	return kc
}

// serve starts node i's Kafka server on ln, closed at t's cleanup.
func (kc *killableCluster) serve(i int, ln net.Listener) {
	srv, err := kafka.New(kc.cl.Engine(i), kafka.Config{AutoCreateTopics: true, Groups: kc.groups})
	if err != nil {
		kc.t.Fatal(err)
	}
	kc.servers[i] = srv
	done := make(chan error, 1)
	go func() { done <- srv.ServeListener(ln, kafka.Listener{Protocol: kafka.ProtocolPlaintext}) }()
	kc.t.Cleanup(func() {
		srv.Close()
		<-done
	})
}

// restart opens node i's engine again on its data and serves Kafka on
// its address again.
func (kc *killableCluster) restart(i int) error {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	kc.cl.Restart(i)
	ln, err := net.Listen("tcp", kc.brokers[i-1])
	if err != nil {
		return fmt.Errorf("listen again on %s: %w", kc.brokers[i-1], err)
	}
	kc.serve(i, ln)
	return nil
}

// coordinator returns the node leading the most __consumer_offsets
// partitions (the coordinator of the most groups), 0 if no node leads any
// (no group was used yet). The controller (the __meta leader) is spared:
// while __meta elects a new leader CreateTopics answers
// NOT_LEADER_FOR_PARTITION, which franz-go's test helpers do not retry.
func (kc *killableCluster) coordinator() int {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	best, most := 0, 0
	for _, i := range kc.cl.Running() {
		e := kc.cl.Engine(i)
		if e.ControllerID() == uint64(i) {
			continue
		}
		n := 0
		for _, ti := range e.Metadata(kafka.OffsetsTopic).Topics {
			for _, p := range ti.Partitions {
				if st, err := e.PartitionStats(kafka.OffsetsTopic, p.Partition); err == nil && st.IsLeader {
					n++
				}
			}
		}
		if n > most {
			best, most = i, n
		}
	}
	return best
}

// kill crashes node i: its engine aborts (no leadership hand-over) and its
// Kafka server closes.
func (kc *killableCluster) kill(i int) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	kc.cl.Kill(i)
	kc.servers[i].Close()
}

// killAfter crashes the coordinator of the most groups d after the first
// group appeared (__consumer_offsets has a leader), unless stop closes
// first, and restarts it after down (clients' helpers expect every seed
// broker back). It returns the node killed, 0 if none was.
func (kc *killableCluster) killAfter(d, down time.Duration, stop <-chan struct{}) (int, error) {
	for kc.coordinator() == 0 {
		select {
		case <-stop:
			return 0, nil
		case <-time.After(200 * time.Millisecond):
		}
	}
	select {
	case <-stop:
		return 0, nil
	case <-time.After(d):
	}
	n := kc.coordinator()
	if n == 0 {
		return 0, nil
	}
	kc.kill(n)
	time.Sleep(down)
	return n, kc.restart(n)
}
