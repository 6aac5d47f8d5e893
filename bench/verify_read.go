package bench

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// verifyFetchMaxWait bounds how long a fetch waits for records: the reader
// knows where each partition ends, so long polls only delay it.
const verifyFetchMaxWait = 250 * time.Millisecond

// listOffsets returns the start (end false) or end offset (high watermark)
// of each of the topic's partitions, asking again until every partition
// answers or ctx ends. Right after a failover some partitions may have no
// leader for a moment.
func listOffsets(ctx context.Context, adm *kadm.Client, topic string, partitions int32, end bool) ([]int64, error) {
	for {
		var lo kadm.ListedOffsets
		var err error
		if end {
			lo, err = adm.ListEndOffsets(ctx, topic)
		} else {
			lo, err = adm.ListStartOffsets(ctx, topic)
		}
		out := make([]int64, partitions)
		if err == nil {
			for p := range partitions {
				o, ok := lo.Lookup(topic, p)
				switch {
				case !ok:
					err = fmt.Errorf("partition %d did not answer", p)
				case o.Err != nil:
					err = fmt.Errorf("partition %d: %w", p, o.Err)
				}
				if err != nil {
					break
				}
				out[p] = o.Offset
			}
		}
		if err == nil {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("list offsets of %q: %w (last error: %v)", topic, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// partitionLeaders returns the leader of each partition of the topic, -1
// where unknown. It is for the report only, so errors leave -1s.
func partitionLeaders(ctx context.Context, adm *kadm.Client, topic string, partitions int32) []int32 {
	out := make([]int32, partitions)
	for i := range out {
		out[i] = -1
	}
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return out
	}
	for _, pd := range md.Topics[topic].Partitions {
		if pd.Partition >= 0 && pd.Partition < partitions && pd.Err == nil {
			out[pd.Partition] = pd.Leader
		}
	}
	return out
}

// readPass reads every partition of the topic from starts[p] (or its log
// start, if later) up to its high watermark, with clients of its own, so
// metadata is fresh and each partition is read from its current leader
// (the client follows leader changes itself). When every partition is read
// it lists the watermarks again and goes on until they stop moving. It stops
// at v.cfg.ReadTimeout; partitions not read to their watermark by then are
// marked incomplete. In a transactional run it reads read_committed, so it
// reaches the watermark only once every transaction in the partition has
// ended.
func (v *verifier) readPass(ctx context.Context, n int, starts []int64) readPass {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.ReadTimeout)
	defer cancel()
	topic, parts := v.cfg.Topic, v.partitions
	pass := readPass{parts: map[int32]partRead{}}
	for p := range parts {
		pass.parts[p] = partRead{start: starts[p], end: starts[p], leader: -1}
	}

	admCl, err := kgo.NewClient(kgo.SeedBrokers(v.cfg.Brokers...), kgo.ClientID("chronik-verify-admin"),
		kgo.WithLogger(kgoLogger{v.log}))
	if err != nil {
		v.readError(fmt.Sprintf("pass %d: admin client: %v", n, err))
		return pass
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	leaders := partitionLeaders(ctx, adm, topic, parts)
	logStarts, err := listOffsets(ctx, adm, topic, parts, false)
	if err != nil {
		v.readError(fmt.Sprintf("pass %d: %v", n, err))
		return pass
	}
	ends, err := listOffsets(ctx, adm, topic, parts, true)
	if err != nil {
		v.readError(fmt.Sprintf("pass %d: %v", n, err))
		return pass
	}

	next := make([]int64, parts)
	from := map[int32]kgo.Offset{}
	var target int64
	for p := range parts {
		next[p] = max(starts[p], logStarts[p])
		from[p] = kgo.NewOffset().At(next[p])
		target += max(0, ends[p]-next[p])
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(v.cfg.Brokers...),
		kgo.ClientID("chronik-verify-reader"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		// Never skip: after a detected loss the client re-reads from the
		// log start, and the checker compares what it reads twice.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(v.cfg.FetchMaxBytes),
		kgo.FetchMaxPartitionBytes(v.cfg.FetchMaxBytes),
		kgo.FetchMaxWait(verifyFetchMaxWait),
		kgo.WithLogger(kgoLogger{v.log}),
	}
	if v.cfg.Transactional {
		// Read what a read_committed consumer sees. The control records
		// (commit and abort markers) are kept only to learn how far the
		// read got: a partition's last offset is usually a marker, which
		// would otherwise never be returned.
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		v.readError(fmt.Sprintf("pass %d: reader client: %v", n, err))
		return pass
	}
	defer cl.Close()

	var read, bytes, errs atomic.Int64
	start := time.Now()
	done, stopped := make(chan struct{}), make(chan struct{})
	go runProgress(progressSource{
		kind:          "read",
		fn:            v.cfg.Progress,
		interval:      v.cfg.ProgressInterval,
		targetRecords: target,
		t0:            start,
		start:         start,
		records:       read.Load,
		bytes:         bytes.Load,
		errors:        errs.Load,
		lat:           newRecorder(),
		elapsed:       func(now time.Time) time.Duration { return now.Sub(start) },
	}, done, stopped)
	defer func() {
		close(done)
		<-stopped
	}()

	for ctx.Err() == nil {
		if caughtUp(next, ends) {
			again, err := listOffsets(ctx, adm, topic, parts, true)
			if err != nil {
				v.readError(fmt.Sprintf("pass %d: %v", n, err))
				break
			}
			if caughtUp(ends, again) { // no watermark moved (or one went back)
				break
			}
			for p := range ends {
				ends[p] = max(ends[p], again[p])
			}
			continue
		}
		fetches := cl.PollFetches(ctx)
		fetches.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			errs.Add(1)
			v.readError(fmt.Sprintf("fetch %s/%d: %v", t, p, err))
		})
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Topic != topic || r.Partition < 0 || r.Partition >= parts {
				return
			}
			next[r.Partition] = max(next[r.Partition], r.Offset+1)
			if r.Attrs.IsControl() {
				return
			}
			pk := parseVerifyRecord(v.run, r.Key, r.Value)
			pass.records = append(pass.records, readRecord{
				partition: r.Partition, offset: r.Offset, fp: v.fp.of(r.Key, r.Value),
				kind: pk.kind, flags: pk.flags, id: pk.id, target: pk.partition,
			})
			read.Add(1)
			bytes.Add(int64(len(r.Value)))
		})
	}
	for p := range parts {
		pr := pass.parts[p]
		pr.leader = leaders[p]
		pr.complete = next[p] >= ends[p]
		pr.end = next[p]
		if pr.complete {
			pr.end = ends[p]
		}
		pass.parts[p] = pr
	}
	v.log.Info("verify read pass done", "pass", n, "topic", topic, "records", read.Load(),
		"elapsed", time.Since(start).Round(time.Millisecond))
	return pass
}

// caughtUp reports whether next[p] >= ends[p] for every partition.
func caughtUp(next, ends []int64) bool {
	for p := range next {
		if next[p] < ends[p] {
			return false
		}
	}
	return true
}
