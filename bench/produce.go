package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// producerBufferBytes caps the bytes each client buffers before Produce
// blocks: Kafka's buffer.memory default, so runs compare with
// kafka-producer-perf-test.
const producerBufferBytes = 32 << 20

// Produce drives produce load against cfg.Brokers over the Kafka protocol
// and reports what the brokers acknowledged.
//
// It creates cfg.Topic when missing, runs the warm-up (excluded from every
// figure), then enqueues records until cfg.Records or cfg.Duration is
// reached and waits for every outstanding acknowledgement (bounded by
// cfg.DeliveryTimeout). The clock runs from the end of the warm-up to the
// last acknowledgement. Records that fail after the client's retries are
// counted in Result.Failed and Result.Errors, never dropped.
//
// When ctx ends, Produce stops enqueuing, waits for records already sent as
// above, and returns the partial figures with Result.Interrupted set and a
// nil error. It returns an error for an invalid config or when the brokers
// cannot be reached or the topic cannot be created.
func Produce(ctx context.Context, cfg ProduceConfig) (Result, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	log := logger(cfg.Logger)

	clients := make([]*kgo.Client, 0, cfg.Producers)
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()
	for i := range cfg.Producers {
		cl, err := kgo.NewClient(produceOpts(cfg, i)...)
		if err != nil {
			return Result{}, fmt.Errorf("bench: producer %d: new client: %w", i, err)
		}
		clients = append(clients, cl)
	}
	partitions, err := ensureTopic(ctx, clients[0], cfg.Topic, cfg.Partitions, cfg.ReplicationFactor)
	if err != nil {
		return Result{}, err
	}
	log.Info("bench produce starting", "topic", cfg.Topic, "partitions", partitions,
		"brokers", strings.Join(cfg.Brokers, ","), "producers", cfg.Producers)

	run := newProduceRun(cfg)
	res := run.run(ctx, clients)
	res.Settings = produceSettings(cfg, partitions)
	return res, nil
}

// produceOpts builds the kgo options for producer i.
func produceOpts(cfg ProduceConfig, i int) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID("chronik-bench-" + strconv.Itoa(i)),
		kgo.DefaultProduceTopic(cfg.Topic),
		kgo.ProducerLinger(cfg.Linger),
		kgo.ProducerBatchMaxBytes(cfg.BatchMaxBytes),
		kgo.ProducerBatchCompression(codec(cfg.Compression)),
		kgo.RecordDeliveryTimeout(cfg.DeliveryTimeout),
		kgo.MaxBufferedBytes(producerBufferBytes),
		kgo.MaxBufferedRecords(1 << 20),
		kgo.WithLogger(kgoLogger{logger(cfg.Logger)}),
	}
	switch cfg.Acks {
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	default:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	if !cfg.Idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite(),
			kgo.MaxProduceRequestsInflightPerBroker(cfg.MaxInFlight))
	}
	return opts
}

// codec maps a Compression name to the client's codec.
func codec(name string) kgo.CompressionCodec {
	switch name {
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}

// produceSettings lists the effective settings by flag name.
func produceSettings(cfg ProduceConfig, partitions int32) map[string]string {
	rf := "broker-default"
	if cfg.ReplicationFactor > 0 {
		rf = strconv.Itoa(int(cfg.ReplicationFactor))
	}
	return map[string]string{
		"brokers":            strings.Join(cfg.Brokers, ","),
		"topic":              cfg.Topic,
		"partitions":         strconv.Itoa(int(partitions)),
		"replication-factor": rf,
		"record-size":        strconv.Itoa(cfg.RecordSize),
		"records":            strconv.FormatInt(cfg.Records, 10),
		"duration":           cfg.Duration.String(),
		"warmup":             cfg.Warmup.String(),
		"acks":               cfg.Acks,
		"compression":        cfg.Compression,
		"linger":             cfg.Linger.String(),
		"batch-max-bytes":    FormatSize(int64(cfg.BatchMaxBytes)),
		"buffer-bytes":       FormatSize(producerBufferBytes),
		"producers":          strconv.Itoa(cfg.Producers),
		"max-in-flight":      strconv.Itoa(cfg.MaxInFlight),
		"rate":               strconv.FormatFloat(cfg.Rate, 'g', -1, 64),
		"keys":               cfg.Keys,
		"payload":            cfg.Payload,
		"idempotent":         strconv.FormatBool(cfg.Idempotent),
		"delivery-timeout":   cfg.DeliveryTimeout.String(),
	}
}

// produceRun is the shared state of one Produce call's goroutines.
type produceRun struct {
	cfg      ProduceConfig
	payloads *payloads
	lat      *recorder

	t0      time.Time // warm-up start (== start without a warm-up)
	start   time.Time // measured phase start
	end     time.Time // measured phase end when cfg.Duration > 0
	stop    atomic.Bool
	issued  atomic.Int64  // measured records claimed, for the Records cap
	slot    atomic.Int64  // rate schedule slots claimed
	keySeq  atomic.Uint64 // next sequential key
	lastAck atomic.Int64  // UnixNano of the last measured acknowledgement

	sent, acked, failed, bytes atomic.Int64
	warmSent, warmFailed       atomic.Int64

	mu   sync.Mutex
	errs map[string]int64
}

func newProduceRun(cfg ProduceConfig) *produceRun {
	r := &produceRun{
		cfg:      cfg,
		payloads: newPayloads(cfg.Payload, cfg.RecordSize, uint64(time.Now().UnixNano())),
		lat:      newRecorder(),
		errs:     map[string]int64{},
	}
	r.t0 = time.Now()
	r.start = r.t0.Add(cfg.Warmup)
	if cfg.Duration > 0 {
		r.end = r.start.Add(cfg.Duration)
	}
	return r
}

// run produces until the run is complete or ctx ends, waits for the
// outstanding acknowledgements and returns the figures.
func (r *produceRun) run(ctx context.Context, clients []*kgo.Client) Result {
	// Records are produced under a context the caller's cancellation does
	// not reach: an interrupted run stops enqueuing but still waits for the
	// records already sent, so none is left uncounted.
	pctx, cancelProduce := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelProduce()

	progressDone := make(chan struct{})
	progressStopped := make(chan struct{})
	go runProgress(progressSource{
		kind:           "produce",
		fn:             r.cfg.Progress,
		interval:       r.cfg.ProgressInterval,
		targetRecords:  r.cfg.Records,
		targetDuration: r.cfg.Duration,
		t0:             r.t0,
		start:          r.start,
		records:        r.acked.Load,
		bytes:          r.bytes.Load,
		errors:         r.failed.Load,
		lat:            r.lat,
		elapsed:        r.elapsed,
	}, progressDone, progressStopped)

	var wg sync.WaitGroup
	for i, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.produceLoop(ctx, pctx, cl, uint64(i))
		}()
	}
	wg.Wait()

	// Wait for every outstanding record. kgo fails a record once it has
	// waited DeliveryTimeout, so Flush ends; the extra bound guards against
	// a record stuck in a request that never returns. Close then fails
	// whatever is still buffered, which the promises count.
	fctx, cancelFlush := context.WithTimeout(pctx, r.cfg.DeliveryTimeout+10*time.Second)
	for _, cl := range clients {
		_ = cl.Flush(fctx)
	}
	cancelFlush()
	for _, cl := range clients {
		cl.Close()
	}
	close(progressDone)
	<-progressStopped

	res := Result{
		Kind:          "produce",
		Started:       r.start,
		Sent:          r.sent.Load(),
		Acked:         r.acked.Load(),
		Failed:        r.failed.Load(),
		Bytes:         r.bytes.Load(),
		WarmupRecords: r.warmSent.Load(),
		Latency:       r.lat.Summary(),
		LatencyKind:   "enqueue to ack",
		Interrupted:   ctx.Err() != nil,
	}
	if r.cfg.Rate > 0 {
		res.LatencyKind = "scheduled send to ack"
	}
	if r.cfg.Acks == "0" {
		res.LatencyKind += " (acks=0: ack = request written)"
	}
	res.Elapsed = r.elapsed(time.Now())
	r.mu.Lock()
	res.Errors = errorCounts(r.errs)
	r.mu.Unlock()
	if wf := r.warmFailed.Load(); wf > 0 {
		res.Errors = append(res.Errors, ErrorCount{Error: "records failed during the warm-up (excluded)", Count: wf})
	}
	res.finish(res.Acked)
	return res
}

// elapsed is the measured time: start to last acknowledgement, or to now
// when nothing was acknowledged.
func (r *produceRun) elapsed(now time.Time) time.Duration {
	if last := r.lastAck.Load(); last > 0 {
		return time.Unix(0, last).Sub(r.start)
	}
	if now.Before(r.start) {
		return 0
	}
	return now.Sub(r.start)
}

// produceLoop enqueues records on cl until the run is complete, r.stop is
// set or ctx ends.
func (r *produceRun) produceLoop(ctx, pctx context.Context, cl *kgo.Client, id uint64) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), id))
	var interval time.Duration
	if r.cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) / r.cfg.Rate)
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for !r.stop.Load() && ctx.Err() == nil {
		now := time.Now()
		sendAt := now
		if interval > 0 {
			// Claim the next slot of the global schedule. Sleeping for
			// less than a millisecond is imprecise, so small leads are
			// sent at once and larger ones are slept off.
			at := r.t0.Add(time.Duration(r.slot.Add(1)-1) * interval)
			if lead := at.Sub(now); lead > time.Millisecond {
				timer.Reset(lead)
				select {
				case <-ctx.Done():
					timer.Stop()
					return
				case <-timer.C:
				}
				now = time.Now()
				sendAt = latencyStart(at, now, true)
			} else {
				sendAt = latencyStart(at, now, false)
			}
		}
		measured := !now.Before(r.start)
		if measured {
			if !r.end.IsZero() && !now.Before(r.end) {
				r.stop.Store(true)
				return
			}
			if r.cfg.Records > 0 && r.issued.Add(1) > r.cfg.Records {
				r.stop.Store(true)
				return
			}
			if sendAt.Before(r.start) {
				sendAt = r.start
			}
			r.sent.Add(1)
		} else {
			r.warmSent.Add(1)
		}
		rec := &kgo.Record{
			Key:       makeKey(r.cfg.Keys, r.keySeq.Add(1)-1, rng),
			Value:     r.payloads.next(rng),
			Timestamp: sendAt,
			Headers:   []kgo.RecordHeader{{Key: TimestampHeader, Value: encodeTimestamp(sendAt)}},
		}
		cl.Produce(pctx, rec, r.promise(measured, sendAt))
	}
}

// latencyStart is when a record's latency starts, for a record scheduled at
// at and sent at now. A sender that is late without having slept was held
// up by the client or the broker (a full buffer, slow acknowledgements), so
// latency counts from the schedule and a broker that falls behind the rate
// shows it. A sender that was early and slept until at is late only by its
// timer's oversleep (0.6 ms on some VMs), which is the load generator's
// doing, not the broker's: latency counts from now.
func latencyStart(at, now time.Time, slept bool) time.Time {
	if slept || !at.Before(now) {
		return now
	}
	return at
}

// promise returns the callback that accounts for one record.
func (r *produceRun) promise(measured bool, sendAt time.Time) func(*kgo.Record, error) {
	return func(rec *kgo.Record, err error) {
		if !measured {
			if err != nil {
				r.warmFailed.Add(1)
			}
			return
		}
		if err != nil {
			r.failed.Add(1)
			r.mu.Lock()
			r.errs[err.Error()]++
			r.mu.Unlock()
			return
		}
		now := time.Now()
		r.acked.Add(1)
		r.bytes.Add(int64(len(rec.Value)))
		r.lat.Record(now.Sub(sendAt))
		for n := now.UnixNano(); ; {
			last := r.lastAck.Load()
			if n <= last || r.lastAck.CompareAndSwap(last, n) {
				break
			}
		}
	}
}
