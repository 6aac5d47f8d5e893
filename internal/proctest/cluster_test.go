package proctest

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// chronikBin is the binary under test, built once by TestMain.
var chronikBin string

func TestMain(m *testing.M) {
	code := func() int {
		if b := os.Getenv("CHRONIK_BIN"); b != "" {
			chronikBin = b // a prebuilt binary
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "chronik-proctest-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		chronikBin = filepath.Join(dir, "chronik")
		cmd := exec.Command("go", "build", "-o", chronikBin, "github.com/chronik-io/chronik/cli/chronik")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build chronik:", err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// broker is one chronik start process of a test cluster.
type broker struct {
	id                     int
	kafka, raft, http, dir string
	cmd                    *exec.Cmd
	exited                 chan struct{}
}

// cluster is n broker processes on 127.0.0.1 ports with temp data dirs.
type cluster struct {
	t       testing.TB
	brokers []*broker
	peers   string
	extra   []string
	// peersOf, when set, replaces peers for the brokers it names (a
	// broker's own entry must stay its Raft address; the others may be
	// proxies).
	peersOf map[int]string
	// extraOf adds flags for the brokers it names.
	extraOf map[int][]string
}

// freePorts returns n distinct free TCP ports on 127.0.0.1, below the
// kernel's ephemeral range (32768 and up on Linux), so that a restarted
// broker does not find its port taken by some process's outgoing
// connection.
func freePorts(t testing.TB, n int) []int {
	var ls []net.Listener
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 10000 {
			t.Fatal("no free ports in [20000, 32000)")
		}
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		ls = append(ls, l)
		ports = append(ports, port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// newCluster prepares n brokers (started with start). extra flags go to
// every broker.
func newCluster(t testing.TB, n int, extra ...string) *cluster {
	ports := freePorts(t, 3*n)
	c := &cluster{t: t, extra: extra}
	var peers []string
	root := t.TempDir()
	for i := 1; i <= n; i++ {
		b := &broker{id: i,
			kafka: fmt.Sprintf("127.0.0.1:%d", ports[3*(i-1)]),
			raft:  fmt.Sprintf("127.0.0.1:%d", ports[3*(i-1)+1]),
			http:  fmt.Sprintf("127.0.0.1:%d", ports[3*(i-1)+2]),
			dir:   filepath.Join(root, fmt.Sprintf("node-%d", i)),
		}
		peers = append(peers, fmt.Sprintf("%d@%s", i, b.raft))
		c.brokers = append(c.brokers, b)
	}
	c.peers = strings.Join(peers, ",")
	t.Cleanup(c.stopAll)
	return c
}

func (c *cluster) broker(id int) *broker { return c.brokers[id-1] }

// start starts broker id's process.
func (c *cluster) start(id int) {
	c.t.Helper()
	b := c.broker(id)
	peers := c.peers
	if p, ok := c.peersOf[id]; ok {
		peers = p
	}
	args := append([]string{"start", "--node-id", strconv.Itoa(id), "--peers", peers,
		"--kafka-addr", b.kafka, "--raft-addr", b.raft, "--http-addr", b.http, "--data-dir", b.dir,
		"--log-level", cmp.Or(os.Getenv("CHRONIK_PROCTEST_LOG_LEVEL"), "warn")}, c.extra...)
	args = append(args, c.extraOf[id]...)
	b.cmd = exec.Command(chronikBin, args...)
	// A test binary that dies (a -timeout panic, a kill) takes its brokers
	// with it: no orphan keeps ports, disk and CPU.
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logf, err := os.OpenFile(filepath.Join(filepath.Dir(b.dir), fmt.Sprintf("node-%d.log", id)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	b.cmd.Stdout, b.cmd.Stderr = logf, logf
	if err := b.cmd.Start(); err != nil {
		c.t.Fatalf("start broker %d: %v", id, err)
	}
	b.exited = make(chan struct{})
	go func() {
		b.cmd.Wait()
		logf.Close()
		close(b.exited)
	}()
}

// kill sends SIGKILL to broker id and waits for it to die.
func (c *cluster) kill(id int) {
	b := c.broker(id)
	b.cmd.Process.Signal(syscall.SIGKILL)
	<-b.exited
}

// stop sends SIGTERM (graceful: leadership is handed over) and waits.
func (c *cluster) stop(id int) {
	b := c.broker(id)
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exited:
	case <-time.After(30 * time.Second):
		c.t.Errorf("broker %d did not stop within 30s of SIGTERM; killing it", id)
		c.kill(id)
	}
}

func (c *cluster) stopAll() {
	for _, b := range c.brokers {
		if b.cmd != nil && b.exited != nil {
			select {
			case <-b.exited:
				continue
			default:
			}
			b.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, b := range c.brokers {
		if b.exited != nil {
			select {
			case <-b.exited:
			case <-time.After(30 * time.Second):
				b.cmd.Process.Signal(syscall.SIGKILL)
				<-b.exited
			}
		}
	}
	if c.t.Failed() {
		for _, b := range c.brokers {
			c.dumpLog(b.id)
		}
	}
	// CHRONIK_PROCTEST_KEEP_LOGS=DIR keeps every broker's whole log there.
	if dir := os.Getenv("CHRONIK_PROCTEST_KEEP_LOGS"); dir != "" {
		for _, b := range c.brokers {
			name := fmt.Sprintf("node-%d.log", b.id)
			if f, err := os.ReadFile(filepath.Join(filepath.Dir(b.dir), name)); err == nil {
				os.WriteFile(filepath.Join(dir, name), f, 0o644)
			}
		}
	}
}

// dumpLog logs the tail of broker id's log.
func (c *cluster) dumpLog(id int) {
	f, err := os.ReadFile(filepath.Join(filepath.Dir(c.broker(id).dir), fmt.Sprintf("node-%d.log", id)))
	if err != nil {
		return
	}
	lines := strings.Split(string(f), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	c.t.Logf("broker %d log tail:\n%s", id, strings.Join(lines, "\n"))
}

// kafkaAddrs returns the Kafka addresses of the given brokers (all if none).
func (c *cluster) kafkaAddrs(ids ...int) []string {
	var out []string
	for _, b := range c.brokers {
		if len(ids) == 0 || contains(ids, b.id) {
			out = append(out, b.kafka)
		}
	}
	return out
}

func contains(s []int, x int) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// waitReady waits until /readyz of every given broker answers 200.
func (c *cluster) waitReady(timeout time.Duration, ids ...int) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for _, id := range ids {
		for !c.ready(id) {
			select {
			case <-c.broker(id).exited:
				c.t.Fatalf("broker %d exited before it was ready", id)
			default:
			}
			if time.Now().After(deadline) {
				c.t.Fatalf("broker %d not ready within %v", id, timeout)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func (c *cluster) ready(id int) bool {
	resp, err := (&http.Client{Timeout: time.Second}).Get("http://" + c.broker(id).http + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// replica is what a broker reports in /v1/partitions.
type replica struct {
	Topic         string
	Partition     int32
	Broker        uint64
	IsLeader      bool
	HighWatermark int64
	Checksum      uint32
}

// replicas reads /v1/partitions of broker id.
func (c *cluster) replicas(id int, checksum bool) ([]replica, error) {
	url := "http://" + c.broker(id).http + "/v1/partitions"
	if checksum {
		url += "?checksum=1"
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var pr struct{ Replicas []replica }
	if err := json.NewDecoder(resp.Body).Decode(&pr); err != nil {
		return nil, err
	}
	return pr.Replicas, nil
}

// metric reads an unlabelled metric from broker id's /metrics.
func (c *cluster) metric(id int, name string) (float64, error) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + c.broker(id).http + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == name {
			return strconv.ParseFloat(f[1], 64)
		}
	}
	return 0, fmt.Errorf("broker %d: metric %s not found", id, name)
}

// sumMetric sums every series of a metric (any labels) on broker id.
func (c *cluster) sumMetric(id int, name string) (float64, error) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + c.broker(id).http + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	sum := 0.0
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("broker %d: %q: %w", id, line, err)
		}
		sum += v
	}
	return sum, nil
}

// admin returns a kadm client seeded with the given brokers.
func admin(t testing.TB, seeds []string) *kadm.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RetryTimeout(30*time.Second),
		kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// leaders returns the leader of each partition of topic as Metadata on
// seeds reports it.
func leaders(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int32, error) {
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return nil, err
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		return nil, fmt.Errorf("topic %s: %v", topic, td.Err)
	}
	out := map[int32]int32{}
	for p, pd := range td.Partitions {
		out[p] = pd.Leader
	}
	return out, nil
}

// preferredLeaders returns the first replica of each partition of topic,
// its preferred leader.
func preferredLeaders(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int32, error) {
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := map[int32]int32{}
	for p, pd := range md.Topics[topic].Partitions {
		if len(pd.Replicas) == 0 {
			return nil, fmt.Errorf("topic %s partition %d: no replicas", topic, p)
		}
		out[p] = pd.Replicas[0]
	}
	return out, nil
}

// runCLI runs the chronik binary and returns its stdout.
func runCLI(t testing.TB, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(chronikBin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chronik %v: %v\n%s", args, err, stderr.String())
	}
	return out
}
