package kafka

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-io/chronik/engine"
)

// lockedBuffer is a bytes.Buffer that exec's copying goroutine may write
// while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// kcatProducer is a kcat transactional producer reading keyed lines
// ("key:value") from a pipe the test holds open.
type kcatProducer struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	stderr *lockedBuffer
	done   chan error // Wait's result
}

// startKcatProducer starts kcat -P on topic with transactional id txnID and
// the given transaction timeout; it is killed at cleanup if still running.
func startKcatProducer(t *testing.T, ctx context.Context, kcat, addr, topic, txnID string, timeout time.Duration) *kcatProducer {
	t.Helper()
	cmd := exec.CommandContext(ctx, kcat, "-P", "-b", addr, "-t", topic, "-K", ":",
		"-X", "transactional.id="+txnID,
		"-X", fmt.Sprintf("transaction.timeout.ms=%d", timeout.Milliseconds()),
		"-X", "linger.ms=0")
	p := &kcatProducer{cmd: cmd, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	var err error
	if p.in, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start kcat: %v", err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		p.done <- nil // for a wait after cleanup (none today)
	})
	return p
}

// kcatReadSize is how much kcat 1.7 reads from stdin at a time: it
// fread()s 1024 bytes, blocking until they are all there, so lines in a
// partly filled block wait for more input or EOF (kcat 1.8 polls the fd
// instead: edenhill/kcat#343).
const kcatReadSize = 1024

// write sends values as keyed lines, keys spreading them over the
// partitions. It pads the last value with dots to a multiple of
// kcatReadSize, so that kcat 1.7 produces every line now; readers trim the
// dots (trimPad).
func (p *kcatProducer) write(t *testing.T, values []string) {
	t.Helper()
	var b strings.Builder
	for i, v := range values {
		line := fmt.Sprintf("k%d:%s", i, v)
		if i == len(values)-1 {
			if n := (b.Len() + len(line) + 1) % kcatReadSize; n != 0 {
				line += strings.Repeat(".", kcatReadSize-n)
			}
		}
		b.WriteString(line + "\n")
	}
	if _, err := io.WriteString(p.in, b.String()); err != nil {
		t.Fatalf("write to kcat: %v\n%s", err, p.stderr.String())
	}
}

// kill SIGKILLs kcat: no EndTxn, no clean close.
func (p *kcatProducer) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill kcat: %v", err)
	}
	<-p.done
	p.done <- nil
}

// finish closes stdin, so that kcat commits its transaction and exits, and
// fails t unless it exits cleanly having committed.
func (p *kcatProducer) finish(t *testing.T) {
	t.Helper()
	p.in.Close()
	err := <-p.done
	p.done <- err
	if err != nil {
		t.Fatalf("kcat producer: %v\n%s", err, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "committed") {
		t.Fatalf("kcat did not commit its transaction:\n%s", p.stderr.String())
	}
}

// txnOffsets returns the high watermark (read_uncommitted ListOffsets latest)
// and the last stable offset (read_committed) of each partition of topic.
func txnOffsets(t *testing.T, ctx context.Context, adm *kadm.Client, topic string) (hw, lso map[int32]int64) {
	t.Helper()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("ListOffsets read_uncommitted: %v", err)
	}
	stable, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = stable.Error()
	}
	if err != nil {
		t.Fatalf("ListOffsets read_committed: %v", err)
	}
	hw, lso = map[int32]int64{}, map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { hw[o.Partition] = o.Offset })
	stable.Each(func(o kadm.ListedOffset) { lso[o.Partition] = o.Offset })
	return hw, lso
}

func sumOffsets(m map[int32]int64) (n int64) {
	for _, v := range m {
		n += v
	}
	return n
}

// pollUntil polls cond every 50ms until it holds or d passes, and reports
// whether it held.
func pollUntil(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); ; {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readWithControls reads topic from the start with the given isolation
// level, control records included, until it has read the last offset
// before each partition's high watermark in hw (a transaction marker, in
// these tests, so read_committed returns it too), and returns the data
// values, sorted, and the control records per partition as "offset:abort"
// or "offset:commit".
func readWithControls(t *testing.T, kc *kafkaCluster, topic string, level kgo.IsolationLevel, hw map[int32]int64) (values []string, controls map[int32][]string) {
	t.Helper()
	cl := kc.client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(level), kgo.FetchMaxWait(200*time.Millisecond), kgo.KeepControlRecords())
	defer cl.Close()
	controls = map[int32][]string{}
	pending := map[int32]bool{}
	for p, h := range hw {
		if h > 0 {
			pending[p] = true
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(pending) > 0 && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= hw[r.Partition]-1 {
				delete(pending, r.Partition)
			}
			if r.Attrs.IsControl() {
				kind := "abort" // control record key: version int16, type int16 (0 abort, 1 commit)
				if len(r.Key) == 4 && r.Key[3] == 1 {
					kind = "commit"
				}
				controls[r.Partition] = append(controls[r.Partition], fmt.Sprintf("%d:%s", r.Offset, kind))
				return
			}
			values = append(values, strings.TrimRight(string(r.Value), ".")) // write's padding
		})
	}
	if len(pending) > 0 {
		t.Fatalf("%s: partitions %v not read up to their high watermarks %v", topic, pending, hw)
	}
	sort.Strings(values)
	return values, controls
}

func seqValues(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%02d", prefix, i)
	}
	return out
}

// TestTransactionsKcatKilled: a librdkafka transactional producer (kcat)
// killed with SIGKILL mid-transaction leaves its transaction open.
//
//   - timeout: the transaction coordinator aborts it once its
//     transaction.timeout.ms (3s) has passed: until then the last stable
//     offset stays below the high watermark; after, an abort marker ends
//     every partition, the LSO reaches the high watermark, read_committed
//     reads none of the records and read_uncommitted all of them and the
//     markers.
//   - fenced: a new kcat with the same transactional.id, started right
//     after the kill, fences the old producer (its InitProducerId aborts the
//     open transaction, long before the old one's 60s timeout) and commits
//     its own records, which are all read_committed reads.
//
// On 1 broker and on 3, where the coordinator writes markers to partitions
// other brokers lead. Skipped without kcat.
func TestTransactionsKcatKilled(t *testing.T) {
	t.Parallel() // mostly waiting on its own cluster
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat not installed")
	}
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d brokers", n), func(t *testing.T) { testTransactionsKcatKilled(t, kcat, n) })
	}
}

func testTransactionsKcatKilled(t *testing.T, kcat string, n int) {
	kc := newKafkaCluster(t, n, Config{Txns: TxnConfig{
		TopicPartitions:    2,
		AbortCheckInterval: 100 * time.Millisecond,
		MaxTimeout:         time.Minute,
	}})
	adm := kc.admin(t)
	addr := kc.addrs[1]

	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		const topic, txnTimeout = "kcat-killed", 3 * time.Second
		kc.CreateTopic(t, topic, engine.TopicConfig{Partitions: 2, ReplicationFactor: int16(n)})
		ctx := testCtx(t, time.Minute)
		p := startKcatProducer(t, ctx, kcat, addr, topic, "kcat-killed", txnTimeout)
		killed := seqValues("killed", 10)
		wrote := time.Now() // the transaction starts after this
		p.write(t, killed)
		var hw, lso map[int32]int64
		if !pollUntil(20*time.Second, func() bool {
			hw, lso = txnOffsets(t, ctx, adm, topic)
			return sumOffsets(hw) == int64(len(killed))
		}) {
			t.Fatalf("high watermarks %v, want %d records in the log\n%s", hw, len(killed), p.stderr.String())
		}
		p.kill(t)
		for part, h := range hw {
			if h == 0 {
				t.Logf("partition %d: no records (keys hash elsewhere)", part)
			}
			if lso[part] != 0 {
				t.Errorf("partition %d: open transaction, LSO %d, want 0 (hw %d)", part, lso[part], h)
			}
		}
		if !pollUntil(txnTimeout+5*time.Second, func() bool {
			hw, lso = txnOffsets(t, ctx, adm, topic)
			return fmt.Sprint(hw) == fmt.Sprint(lso)
		}) {
			t.Fatalf("%v after the first record: LSO %v, still below the high watermarks %v", time.Since(wrote), lso, hw)
		}
		if took := time.Since(wrote); took < txnTimeout {
			t.Errorf("transaction ended %v after its first record, before its %v timeout", took, txnTimeout)
		} else {
			t.Logf("transaction aborted %v after its first record", took.Round(10*time.Millisecond))
		}
		if sumOffsets(hw) != int64(len(killed))+int64(len(hw)) {
			t.Errorf("high watermarks %v, want %d records and an abort marker per partition", hw, len(killed))
		}

		if got, ctl := readWithControls(t, kc, topic, kgo.ReadCommitted(), hw); len(got) != 0 {
			t.Errorf("read_committed read %v, want none of the aborted records (control records at %v)", got, ctl)
		}
		got, ctl := readWithControls(t, kc, topic, kgo.ReadUncommitted(), hw)
		if strings.Join(got, " ") != strings.Join(killed, " ") {
			t.Errorf("read_uncommitted read %v, want %v", got, killed)
		}
		for part, h := range hw {
			if want := fmt.Sprintf("[%d:abort]", h-1); h > 0 && fmt.Sprint(ctl[part]) != want {
				t.Errorf("partition %d: control records at %v, want the abort marker at %d", part, ctl[part], h-1)
			}
		}
	})

	t.Run("fenced", func(t *testing.T) {
		t.Parallel()
		const topic = "kcat-fenced"
		kc.CreateTopic(t, topic, engine.TopicConfig{Partitions: 2, ReplicationFactor: int16(n)})
		ctx := testCtx(t, time.Minute)
		old := startKcatProducer(t, ctx, kcat, addr, topic, "kcat-fenced", time.Minute)
		killed := seqValues("killed", 10)
		old.write(t, killed)
		if !pollUntil(20*time.Second, func() bool {
			hw, _ := txnOffsets(t, ctx, adm, topic)
			return sumOffsets(hw) == int64(len(killed))
		}) {
			t.Fatalf("the killed producer's %d records never reached the log\n%s", len(killed), old.stderr.String())
		}
		old.kill(t)

		start := time.Now()
		p := startKcatProducer(t, ctx, kcat, addr, topic, "kcat-fenced", 10*time.Second)
		committed := seqValues("new", 8)
		p.write(t, committed)
		p.finish(t)
		if took := time.Since(start); took > 20*time.Second {
			t.Errorf("the new producer took %v: it waited for the old transaction's timeout", took)
		}
		// EndTxn is answered once the commit is decided; the markers that
		// end the transaction in the partitions follow.
		var hw, lso map[int32]int64
		if !pollUntil(5*time.Second, func() bool {
			hw, lso = txnOffsets(t, ctx, adm, topic)
			return fmt.Sprint(hw) == fmt.Sprint(lso)
		}) {
			t.Fatalf("5s after the commit: LSO %v, want the high watermarks %v", lso, hw)
		}
		got, _ := readWithControls(t, kc, topic, kgo.ReadCommitted(), hw)
		if strings.Join(got, " ") != strings.Join(committed, " ") {
			t.Errorf("read_committed read %v, want exactly the new producer's %v", got, committed)
		}
		all, ctl := readWithControls(t, kc, topic, kgo.ReadUncommitted(), hw)
		if want := append(append([]string{}, killed...), committed...); strings.Join(all, " ") != strings.Join(want, " ") {
			t.Errorf("read_uncommitted read %v, want %v", all, want)
		}
		var markers int
		for part, c := range ctl {
			markers += len(c)
			// Both producers wrote to every partition (the same keys).
			if len(c) != 2 || !strings.HasSuffix(c[0], ":abort") || !strings.HasSuffix(c[1], fmt.Sprintf("%d:commit", hw[part]-1)) {
				t.Errorf("partition %d: control records %v, want an abort marker, then the commit marker at %d", part, c, hw[part]-1)
			}
		}
		if n := len(killed) + len(committed) + markers; sumOffsets(hw) != int64(n) {
			t.Errorf("high watermarks %v, want %d records and %d markers", hw, len(killed)+len(committed), markers)
		}
	})
}
