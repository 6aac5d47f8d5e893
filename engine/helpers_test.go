package engine_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
	"github.com/chronik-io/chronik/segment"
)

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// produceLeader produces recs on whichever engine leads the partition,
// retrying NotLeader/NotReady answers for up to 10 s.
func produceLeader(t testing.TB, c *testcluster.Cluster, topic string, p int32, recs []engine.Record) engine.ProduceResult {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l := c.Leader(topic, p)
		if l != 0 {
			res, err := c.Engine(l).Produce(ctxT(t, 10*time.Second), topic, p, recs)
			if err == nil {
				return res
			}
			if time.Now().After(deadline) {
				t.Fatalf("produce %s/%d on %d: %v", topic, p, l, err)
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("produce %s/%d: no leader", topic, p)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fetchAll reads every record of a partition from its leader, from the log
// start offset on.
func fetchAll(t testing.TB, e *engine.Engine, topic string, p int32) []engine.Record {
	t.Helper()
	var out []engine.Record
	lo, err := e.ListOffsets(ctxT(t, 10*time.Second), topic, p, engine.Earliest)
	if err != nil {
		t.Fatalf("list offsets %s/%d: %v", topic, p, err)
	}
	off, stalls := lo.Offset, 0
	for {
		fr, err := e.Fetch(ctxT(t, 10*time.Second), topic, p, off, engine.FetchOptions{MaxBytes: 4 << 20})
		if err != nil {
			t.Fatalf("fetch %s/%d at %d: %v", topic, p, off, err)
		}
		recs, err := fr.Records()
		if err != nil {
			t.Fatalf("decode %s/%d at %d: %v", topic, p, off, err)
		}
		for _, r := range recs {
			if r.Offset >= off {
				out = append(out, r)
			}
		}
		if len(recs) > 0 {
			off = recs[len(recs)-1].Offset + 1
		}
		// Batches that compaction emptied hold no records: go on after
		// them, as a consumer does.
		next := off
		if len(fr.Batches) > 0 {
			next = max(off, nextOffset(t, fr.Batches))
		}
		if next == off && len(recs) == 0 {
			if off >= fr.HighWatermark || stalls >= 20 {
				return out
			}
			// Nothing below the high watermark: fetch again, as a
			// consumer does, and say so should the test fail.
			stalls++
			t.Logf("fetch %s/%d at %d: no batches below high watermark %d (retry %d)", topic, p, off, fr.HighWatermark, stalls)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		off = next
		if off >= fr.HighWatermark {
			return out
		}
	}
}

// nextOffset is the offset after the last batch of b.
func nextOffset(t testing.TB, b []byte) int64 {
	t.Helper()
	var next int64
	for len(b) > 0 {
		h, err := segment.ParseBatchHeader(b)
		if err != nil {
			t.Fatalf("batch header: %v", err)
		}
		next = h.LastOffset() + 1
		b = b[h.Size():]
	}
	return next
}

func records(prefix string, n int) []engine.Record {
	recs := make([]engine.Record, n)
	for i := range recs {
		recs[i] = engine.Record{Key: []byte(prefix), Value: []byte(fmt.Sprintf("%s-%06d", prefix, i))}
	}
	return recs
}

// replicaBatches opens, with the engines stopped, each replica's segment
// directory of topic/p and returns its full contents.
func replicaBatches(t testing.TB, c *testcluster.Cluster, topic string, p int32) map[int][]byte {
	t.Helper()
	out := map[int][]byte{}
	for i := 1; i <= c.N(); i++ {
		dirs, _ := filepath.Glob(filepath.Join(c.Config(i).DataDir, "partitions", fmt.Sprintf("%s-%d.*", topic, p)))
		for _, d := range dirs {
			if filepath.Ext(d) == ".tmp" || strings.Contains(filepath.Base(d), ".quarantined-") {
				continue
			}
			l, err := segment.Open(d, &segment.Options{DisableBackgroundRewrite: true})
			if err != nil {
				t.Fatalf("open %s: %v", d, err)
			}
			var all []byte
			for off := l.StartOffset(); off < l.EndOffset(); {
				b, err := l.Read(off, 1<<20)
				if err != nil || len(b) == 0 {
					t.Fatalf("read %s at %d: %v", d, off, err)
				}
				all = append(all, b...)
				for len(b) > 0 {
					n := int(binary.BigEndian.Uint32(b[8:])) + 12
					off = int64(binary.BigEndian.Uint64(b[0:])) + int64(binary.BigEndian.Uint32(b[23:])) + 1
					b = b[n:]
				}
			}
			l.Close()
			out[i] = all
		}
	}
	return out
}

func assertIdentical(t testing.TB, reps map[int][]byte, want int) {
	t.Helper()
	if len(reps) != want {
		t.Fatalf("found %d replicas on disk, want %d", len(reps), want)
	}
	var ref []byte
	var refID int
	for id, b := range reps {
		if ref == nil {
			ref, refID = b, id
			continue
		}
		if !bytes.Equal(ref, b) {
			t.Fatalf("replica %d (%d bytes) differs from replica %d (%d bytes)", id, len(b), refID, len(ref))
		}
	}
	if len(ref) == 0 {
		t.Fatal("replicas are empty")
	}
}

// idempotentBatch encodes recs as a batch of producer id/epoch starting at seq.
func idempotentBatch(recs []engine.Record, pid int64, epoch int16, seq int32) []byte {
	b := engine.EncodeBatch(recs, time.Now())
	binary.BigEndian.PutUint64(b[43:], uint64(pid))
	binary.BigEndian.PutUint16(b[51:], uint16(epoch))
	binary.BigEndian.PutUint32(b[53:], uint32(seq))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}
