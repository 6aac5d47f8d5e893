package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Consume reads cfg.Topic from its earliest offsets over the Kafka protocol
// until cfg.Records records or cfg.Duration, and reports throughput and,
// for records that carry Produce's TimestampHeader, the end-to-end latency
// from their send time to their receipt (meaningful when Consume runs
// beside a Produce, on one clock).
//
// The clock starts at the first fetch, once every partition answers
// ListOffsets (with cfg.Group or cfg.ShareGroup it includes joining the group), and stops at the last record
// received. Fetch and consumer group errors are counted in Result.Failed
// and Result.Errors.
//
// It returns the figures together with an error when cfg.Records was not
// reached because no record arrived for cfg.IdleTimeout; when ctx ends it
// returns the partial figures with Result.Interrupted set and a nil error.
func Consume(ctx context.Context, cfg ConsumeConfig) (Result, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	// Readiness is checked with a client of its own: a consuming client
	// starts fetching (and backing off on errors) as soon as it exists.
	partitions, err := waitTopicReady(ctx, cfg.Brokers, cfg.Topic, cfg.Logger)
	if err != nil {
		return Result{}, err
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID("chronik-bench-consumer"),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(cfg.FetchMaxBytes),
		kgo.FetchMaxPartitionBytes(cfg.FetchMaxBytes),
		kgo.WithLogger(kgoLogger{logger(cfg.Logger)}),
	}
	r := &consumeRun{cfg: cfg, lat: newRecorder(), errs: map[string]int64{}}
	if cfg.Group != "" {
		// The client reports group errors (e.g. a broker without a group
		// coordinator) as fetch errors, which are counted below.
		opts = append(opts, kgo.ConsumerGroup(cfg.Group))
	}
	if cfg.ShareGroup != "" {
		if err := shareFromStart(ctx, cfg.Brokers, cfg.ShareGroup, cfg.Logger); err != nil {
			return Result{}, err
		}
		opts = append(opts, kgo.ShareGroup(cfg.ShareGroup))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return Result{}, fmt.Errorf("bench: consumer: new client: %w", err)
	}
	defer cl.Close()

	res, err := r.run(ctx, cl)
	res.Settings = map[string]string{
		"brokers":         strings.Join(cfg.Brokers, ","),
		"topic":           cfg.Topic,
		"partitions":      strconv.Itoa(int(partitions)),
		"group":           cfg.Group,
		"share-group":     cfg.ShareGroup,
		"records":         strconv.FormatInt(cfg.Records, 10),
		"duration":        cfg.Duration.String(),
		"fetch-max-bytes": FormatSize(int64(cfg.FetchMaxBytes)),
		"idle-timeout":    cfg.IdleTimeout.String(),
	}
	return res, err
}

// consumeRun is the state of one Consume call.
type consumeRun struct {
	cfg   ConsumeConfig
	lat   *recorder
	start time.Time
	last  atomic.Int64 // UnixNano of the last record received

	records, bytes, failed atomic.Int64

	mu   sync.Mutex
	errs map[string]int64
}

// countError records one failure under msg.
// waitTopicReady waits, with a short-lived client, until every partition of
// topic has a leader that answers ListOffsets, and returns their count.
func waitTopicReady(ctx context.Context, brokers []string, topic string, log *slog.Logger) (int32, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ClientID("chronik-bench-admin"),
		kgo.WithLogger(kgoLogger{logger(log)}))
	if err != nil {
		return 0, fmt.Errorf("bench: admin client: %w", err)
	}
	defer cl.Close()
	// Right after brokers start, partitions may have no leader yet
	// (LEADER_NOT_AVAILABLE): wait for one as a Kafka client would.
	deadline := time.Now().Add(topicReadyTimeout)
	for {
		partitions, err := topicPartitions(ctx, cl, topic)
		if err == nil && partitions > 0 {
			return partitions, waitServing(ctx, cl, topic, partitions)
		}
		if err == nil {
			err = errors.New("partitions without a leader")
		}
		if errors.Is(err, kerr.UnknownTopicOrPartition) || time.Now().After(deadline) {
			return 0, fmt.Errorf("bench: consume topic %q: %w", topic, err)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("bench: consume topic %q: %w", topic, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// shareFromStart sets share.auto.offset.reset=earliest on a share group,
// so that its share partitions start at the log start, as a plain consume
// does.
func shareFromStart(ctx context.Context, brokers []string, group string, log *slog.Logger) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ClientID("chronik-bench-admin"),
		kgo.WithLogger(kgoLogger{logger(log)}))
	if err != nil {
		return fmt.Errorf("bench: admin client: %w", err)
	}
	defer cl.Close()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Name, c.Value = "share.auto.offset.reset", kmsg.StringPtr("earliest")
	res.Configs = append(res.Configs, c)
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(ctx, cl)
	if err == nil && len(resp.Resources) == 1 {
		err = kerr.ErrorForCode(resp.Resources[0].ErrorCode)
	}
	if err != nil {
		return fmt.Errorf("bench: share group %q: set share.auto.offset.reset: %w", group, err)
	}
	return nil
}

func (r *consumeRun) countError(msg string) {
	r.failed.Add(1)
	r.mu.Lock()
	r.errs[msg]++
	r.mu.Unlock()
}

func (r *consumeRun) elapsed(now time.Time) time.Duration {
	if last := r.last.Load(); last > 0 {
		return time.Unix(0, last).Sub(r.start)
	}
	return now.Sub(r.start)
}

func (r *consumeRun) run(ctx context.Context, cl *kgo.Client) (Result, error) {
	r.start = time.Now()
	var end time.Time
	if r.cfg.Duration > 0 {
		end = r.start.Add(r.cfg.Duration)
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go runProgress(progressSource{
		kind:           "consume",
		fn:             r.cfg.Progress,
		interval:       r.cfg.ProgressInterval,
		targetRecords:  r.cfg.Records,
		targetDuration: r.cfg.Duration,
		t0:             r.start,
		start:          r.start,
		records:        r.records.Load,
		bytes:          r.bytes.Load,
		errors:         r.failed.Load,
		lat:            r.lat,
		elapsed:        r.elapsed,
	}, done, stopped)

	var runErr error
	lastRecord := time.Now()
poll:
	for {
		if r.cfg.Records > 0 && r.records.Load() >= r.cfg.Records {
			break
		}
		now := time.Now()
		if !end.IsZero() && !now.Before(end) {
			break
		}
		// Each poll waits at most until the idle limit or the end of the
		// run, whichever is first.
		wait := lastRecord.Add(r.cfg.IdleTimeout)
		if !end.IsZero() && end.Before(wait) {
			wait = end
		}
		pctx, cancel := context.WithDeadline(ctx, wait)
		fetches := cl.PollFetches(pctx)
		cancel()
		now = time.Now()
		if ctx.Err() != nil {
			break
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			if topic == "" { // not about one partition, e.g. joining the group
				r.countError(fmt.Sprintf("fetch: %v", err))
				return
			}
			r.countError(fmt.Sprintf("fetch %s/%d: %v", topic, p, err))
		})
		n := 0
		fetches.EachRecord(func(rec *kgo.Record) {
			if r.cfg.Records > 0 && r.records.Load() >= r.cfg.Records {
				return // past the requested count: not measured
			}
			n++
			r.records.Add(1)
			r.bytes.Add(int64(len(rec.Value)))
			for _, h := range rec.Headers {
				if h.Key == TimestampHeader {
					if ts, ok := decodeTimestamp(h.Value); ok {
						r.lat.Record(now.Sub(ts))
					}
					break
				}
			}
		})
		if n > 0 {
			lastRecord = now
			r.last.Store(now.UnixNano())
			continue
		}
		if !now.Before(lastRecord.Add(r.cfg.IdleTimeout)) {
			if r.cfg.Records > 0 {
				runErr = fmt.Errorf("bench: consumed %d of %d records: none arrived for %s", r.records.Load(), r.cfg.Records, r.cfg.IdleTimeout)
			}
			break poll
		}
	}
	close(done)
	<-stopped

	res := Result{
		Kind:        "consume",
		Started:     r.start,
		Consumed:    r.records.Load(),
		Failed:      r.failed.Load(),
		Bytes:       r.bytes.Load(),
		Latency:     r.lat.Summary(),
		LatencyKind: "end to end, send to receipt",
		Interrupted: ctx.Err() != nil,
		Elapsed:     r.elapsed(time.Now()),
	}
	r.mu.Lock()
	res.Errors = errorCounts(r.errs)
	r.mu.Unlock()
	res.finish(res.Consumed)
	return res, runErr
}
