package proctest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/bench"
)

// TestScale is `make bench-scale`: three `chronik start` processes, RF=3,
// CHRONIK_SCALE_TOPICS topics (default 1,000) of
// CHRONIK_SCALE_PARTITIONS partitions each (default 2), so that every
// broker holds a replica of each of the 2,000 partitions. It measures and
// reports (docs/CLUSTER.md, "Scale"):
//
//   - the time to create them all, to a leader for every partition;
//   - whether every broker then lists the same topics;
//   - Metadata for all topics, answered by each broker (median, max);
//   - an idle broker's heap per partition replica and its CPU;
//   - with CHRONIK_SCALE_DATA bytes (default 10 GiB; 0 skips it) produced
//     into one more topic, how long a restarted broker takes to be ready.
//
// Each figure is checked against its target, and CHRONIK_SCALE_REPORT=FILE
// writes them as one JSON object; CHRONIK_SCALE_FLAGS adds flags to every
// broker (for example "--raft-heartbeat-ticks 3"), and
// CHRONIK_SCALE_CPUPROFILE=FILE saves broker 1's CPU profile of its idle
// window (go tool pprof -top bin/chronik FILE). Without CHRONIK_SCALE=1 it is skipped:
// it runs for several minutes and wants the machine to itself.
func TestScale(t *testing.T) {
	if os.Getenv("CHRONIK_SCALE") != "1" {
		t.Skip("make bench-scale (CHRONIK_SCALE=1) runs the scale benchmark")
	}
	topics := envInt(t, "CHRONIK_SCALE_TOPICS", 1000)
	perTopic := envInt(t, "CHRONIK_SCALE_PARTITIONS", 2)
	dataBytes := envInt(t, "CHRONIK_SCALE_DATA", 10<<30)
	parts := topics * perTopic
	rep := scaleReport{Topics: topics, Partitions: parts, Brokers: 3, ReplicationFactor: 3}

	c := newCluster(t, 3, strings.Fields(os.Getenv("CHRONIK_SCALE_FLAGS"))...)
	for id := 1; id <= 3; id++ {
		c.start(id)
	}
	c.waitReady(60*time.Second, 1, 2, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()

	// The brokers' own cost, before any topic: the baseline of the per
	// partition heap.
	time.Sleep(10 * time.Second)
	base := make([]float64, 3)
	for id := 1; id <= 3; id++ {
		base[id-1] = c.liveHeap(t, id)
	}
	rep.BaseCPUCores = c.cpuOver(t, 10*time.Second)

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaAddrs()...), kgo.RetryTimeout(time.Minute),
		kgo.RequestTimeoutOverhead(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	// Create as `chronik topic create` does: one topic per request from
	// createClients clients at a time. A broker answers one connection's
	// admin requests in order, as Kafka does, and CreateTopics answers once
	// the new partitions have elected their leaders (a second or two), so
	// requests pipelined on one connection wait for each other: 4 requests
	// of 50 topics in flight on one client took 89 s here, against 40 s for
	// 64 clients of one topic each.
	const createClients = 64
	start := time.Now()
	names := make([]string, topics)
	for i := range names {
		names[i] = fmt.Sprintf("scale-%04d", i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, topics)
	next := make(chan string)
	for range min(createClients, topics) {
		wcl, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaAddrs()...), kgo.RetryTimeout(time.Minute),
			kgo.RequestTimeoutOverhead(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		defer wcl.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range next {
				req := kmsg.NewPtrCreateTopicsRequest()
				req.TimeoutMillis = 60000
				rt := kmsg.NewCreateTopicsRequestTopic()
				rt.Topic, rt.NumPartitions, rt.ReplicationFactor = n, int32(perTopic), 3
				req.Topics = append(req.Topics, rt)
				resp, err := req.RequestWith(ctx, wcl)
				if err != nil {
					errs <- err
					continue
				}
				for _, rt := range resp.Topics {
					if rt.ErrorCode != 0 {
						errs <- fmt.Errorf("create %s: error code %d", rt.Topic, rt.ErrorCode)
					}
				}
			}
		}()
	}
	for _, n := range names {
		next <- n
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	c.waitAllLed(t, ctx, 1, names, perTopic, 5*time.Minute)
	rep.CreateSeconds = time.Since(start).Seconds()
	t.Logf("created %d topics, %d partitions RF=3, every partition led, in %.1fs", topics, parts, rep.CreateSeconds)

	// Every broker lists the same topics: each one's own Metadata.
	lists := make([][]string, 3)
	for id := 1; id <= 3; id++ {
		resp := c.metadataFrom(t, ctx, cl, id)
		for _, tp := range resp.Topics {
			if tp.ErrorCode == 0 && tp.Topic != nil {
				lists[id-1] = append(lists[id-1], *tp.Topic)
			}
		}
		slices.Sort(lists[id-1])
	}
	rep.SameTopicList = slices.Equal(lists[0], lists[1]) && slices.Equal(lists[1], lists[2])
	for id := 1; id <= 3; id++ {
		n := 0
		for _, name := range lists[id-1] {
			if _, ok := slices.BinarySearch(names, name); ok {
				n++
			}
		}
		if n != topics {
			t.Errorf("broker %d lists %d of the %d topics", id, n, topics)
		}
	}
	if !rep.SameTopicList {
		t.Errorf("the brokers list different topics: %d, %d, %d", len(lists[0]), len(lists[1]), len(lists[2]))
	}

	// Metadata for all topics, 20 times from each broker.
	var lat []float64
	for id := 1; id <= 3; id++ {
		for range 20 {
			t0 := time.Now()
			c.metadataFrom(t, ctx, cl, id)
			lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
		}
	}
	slices.Sort(lat)
	rep.MetadataMillisP50, rep.MetadataMillisMax = lat[len(lat)/2], lat[len(lat)-1]

	// Idle: let the balancer and the last elections settle, then measure.
	time.Sleep(20 * time.Second)
	for id := 1; id <= 3; id++ {
		h := c.liveHeap(t, id)
		rep.HeapPerReplicaBytes = append(rep.HeapPerReplicaBytes, (h-base[id-1])/float64(parts))
	}
	var profiled sync.WaitGroup
	if f := os.Getenv("CHRONIK_SCALE_CPUPROFILE"); f != "" {
		profiled.Go(func() { c.cpuProfile(t, 1, 25*time.Second, f) })
	}
	rep.IdleCPUCores = c.cpuOver(t, 30*time.Second)
	profiled.Wait()
	t.Logf("idle: heap per partition replica %.0f bytes, CPU %.3f cores (%.3f before the topics)",
		rep.HeapPerReplicaBytes, rep.IdleCPUCores, rep.BaseCPUCores)

	if dataBytes > 0 {
		res, err := bench.Produce(ctx, bench.ProduceConfig{
			Brokers: c.kafkaAddrs(), Topic: "scale-data", Partitions: 8, ReplicationFactor: 3,
			RecordSize: 64 << 10, Records: int64(dataBytes / (64 << 10)), Linger: 5 * time.Millisecond,
		})
		if err != nil {
			t.Fatalf("produce %d bytes: %v", dataBytes, err)
		}
		if res.Failed > 0 {
			t.Fatalf("produce: %d records failed", res.Failed)
		}
		rep.DataBytes = res.Bytes
		t.Logf("produced %d bytes in %.0fs", res.Bytes, res.Elapsed.Seconds())
		c.stop(2)
		t0 := time.Now()
		c.start(2)
		c.waitReady(5*time.Minute, 2)
		rep.RestartReadySeconds = time.Since(t0).Seconds()
		t.Logf("broker 2 with %d partitions and %d bytes ready %.1fs after its start", parts+8, res.Bytes, rep.RestartReadySeconds)
	}

	checks := []struct {
		name string
		ok   bool
	}{
		{fmt.Sprintf("create %d partitions RF=3 < 60 s (%.1f s)", parts, rep.CreateSeconds), rep.CreateSeconds < 60},
		{fmt.Sprintf("Metadata for all topics < 50 ms (median %.1f ms)", rep.MetadataMillisP50), rep.MetadataMillisP50 < 50},
		{fmt.Sprintf("idle heap <= 1 MB per partition replica (%.0f bytes max)", slices.Max(rep.HeapPerReplicaBytes)), slices.Max(rep.HeapPerReplicaBytes) <= 1e6},
		{fmt.Sprintf("idle broker < 5%% of a core (%.3f cores max)", slices.Max(rep.IdleCPUCores)), slices.Max(rep.IdleCPUCores) < 0.05},
	}
	if dataBytes > 0 {
		checks = append(checks, struct {
			name string
			ok   bool
		}{fmt.Sprintf("restart with %d bytes ready < 10 s (%.1f s)", rep.DataBytes, rep.RestartReadySeconds), rep.RestartReadySeconds < 10})
	}
	for _, ch := range checks {
		rep.Checks = append(rep.Checks, scaleCheck{Name: ch.name, Met: ch.ok})
		if ch.ok {
			t.Logf("met:     %s", ch.name)
		} else {
			t.Errorf("not met: %s", ch.name)
		}
	}
	if f := os.Getenv("CHRONIK_SCALE_REPORT"); f != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(f, append(b, '\n'), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// scaleReport is TestScale's figures, as CHRONIK_SCALE_REPORT writes them.
type scaleReport struct {
	Brokers             int          `json:"brokers"`
	ReplicationFactor   int          `json:"replication_factor"`
	Topics              int          `json:"topics"`
	Partitions          int          `json:"partitions"`
	CreateSeconds       float64      `json:"create_s"`
	SameTopicList       bool         `json:"same_topic_list"`
	MetadataMillisP50   float64      `json:"metadata_all_topics_ms_p50"`
	MetadataMillisMax   float64      `json:"metadata_all_topics_ms_max"`
	HeapPerReplicaBytes []float64    `json:"idle_heap_per_replica_bytes"`
	BaseCPUCores        []float64    `json:"base_cpu_cores"`
	IdleCPUCores        []float64    `json:"idle_cpu_cores"`
	DataBytes           int64        `json:"data_bytes,omitempty"`
	RestartReadySeconds float64      `json:"restart_ready_s,omitempty"`
	Checks              []scaleCheck `json:"checks"`
}

type scaleCheck struct {
	Name string `json:"name"`
	Met  bool   `json:"met"`
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// liveHeap is broker id's heap after a forced garbage collection: the
// bytes its live objects take.
func (c *cluster) liveHeap(t *testing.T, id int) float64 {
	t.Helper()
	resp, err := (&http.Client{Timeout: time.Minute}).Get("http://" + c.broker(id).http + "/debug/pprof/heap?gc=1")
	if err != nil {
		t.Fatalf("broker %d: heap profile: %v", id, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return c.mustMetric(t, id, "go_memstats_heap_alloc_bytes")
}

// cpuProfile saves broker id's CPU profile over d to file; a failure is
// logged, not fatal: the profile is a diagnostic, not a figure.
func (c *cluster) cpuProfile(t *testing.T, id int, d time.Duration, file string) {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", c.broker(id).http, int(d.Seconds()))
	resp, err := (&http.Client{Timeout: d + time.Minute}).Get(url)
	if err != nil {
		t.Logf("broker %d: CPU profile: %v", id, err)
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil {
		err = os.WriteFile(file, b, 0o644)
	}
	if err != nil {
		t.Logf("broker %d: CPU profile to %s: %v", id, file, err)
	}
}

// cpuOver is each broker's CPU (user and system, in cores) over window.
func (c *cluster) cpuOver(t *testing.T, window time.Duration) []float64 {
	t.Helper()
	n := len(c.brokers)
	before := make([]float64, n)
	for id := 1; id <= n; id++ {
		before[id-1] = c.mustMetric(t, id, "process_cpu_seconds_total")
	}
	time.Sleep(window)
	out := make([]float64, n)
	for id := 1; id <= n; id++ {
		out[id-1] = (c.mustMetric(t, id, "process_cpu_seconds_total") - before[id-1]) / window.Seconds()
	}
	return out
}

func (c *cluster) mustMetric(t *testing.T, id int, name string) float64 {
	t.Helper()
	v, err := c.metric(id, name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// metadataFrom asks broker id itself for every topic's metadata.
func (c *cluster) metadataFrom(t *testing.T, ctx context.Context, cl *kgo.Client, id int) *kmsg.MetadataResponse {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	resp, err := req.RequestWith(ctx, cl.Broker(id))
	if err != nil {
		t.Fatalf("metadata from broker %d: %v", id, err)
	}
	return resp
}

// waitAllLed waits until broker id's Metadata names a leader for every
// partition of every topic in names.
func (c *cluster) waitAllLed(t *testing.T, ctx context.Context, id int, names []string, perTopic int, timeout time.Duration) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.broker(id).kafka))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	deadline := time.Now().Add(timeout)
	for {
		resp := c.metadataFrom(t, ctx, cl, id)
		led := 0
		want := map[string]bool{}
		for _, n := range names {
			want[n] = true
		}
		for _, tp := range resp.Topics {
			if tp.Topic == nil || !want[*tp.Topic] {
				continue
			}
			for _, p := range tp.Partitions {
				if p.ErrorCode == 0 && p.Leader >= 0 {
					led++
				}
			}
		}
		if led == len(names)*perTopic {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %d of %d partitions have a leader", timeout, led, len(names)*perTopic)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
