package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// verifyLinger is the producers' batch fill time: short, so a partition's
// stall is measured on records that were really sent, not waiting in the
// client.
const verifyLinger = 2 * time.Millisecond

// verifyMetadataMinAge is how soon the producers may refresh metadata after
// a failure: 250 ms, near the Java client's and librdkafka's 100 ms retry
// backoff, rather than franz-go's default of 5 s, so that a partition's
// longest stall measures the cluster's failover rather than the client's
// refresh pacing.
const verifyMetadataMinAge = 250 * time.Millisecond

// verifyProduceOpts builds the kgo options of Verify's producer i of run:
// acks=all, manual partitioning (each record names its partition),
// idempotent unless disabled, and Kafka's default of 5 requests in flight
// either way. A transactional producer's id names the run and the producer,
// so no two producers, of this run or another, fence each other.
func verifyProduceOpts(cfg VerifyConfig, run uint64, i int) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID("chronik-verify-" + strconv.Itoa(i)),
		kgo.DefaultProduceTopic(cfg.Topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(verifyLinger),
		kgo.MetadataMinAge(verifyMetadataMinAge),
		kgo.RecordDeliveryTimeout(cfg.DeliveryTimeout),
		kgo.MaxBufferedBytes(producerBufferBytes),
		kgo.WithLogger(kgoLogger{logger(cfg.Logger)}),
	}
	if !cfg.Idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(MaxInFlightIdempotent))
	}
	if cfg.Transactional {
		opts = append(opts,
			kgo.TransactionalID(fmt.Sprintf("chronik-verify-%016x-%d", run, i)),
			kgo.TransactionTimeout(verifyTxnTimeout(cfg)))
	}
	return opts
}

// verifyProducer is one client and its account of every record it sent,
// indexed by sequence number.
type verifyProducer struct {
	id uint32
	cl *kgo.Client

	mu   sync.Mutex
	recs []sentRecord
	txns []sentTxn // transactional runs only
}

// verifyLoad is the produce phase of one Verify call.
type verifyLoad struct {
	cfg        VerifyConfig
	run        uint64
	partitions int32
	payloads   *payloads
	lat        *recorder

	start, end time.Time
	slot       atomic.Int64 // records claimed: the rate schedule and the partition round robin

	acked, failed, unknown, bytes atomic.Int64

	mu   sync.Mutex
	errs map[string]int64
}

// produce runs the load until cfg.Duration has passed or ctx ends, waits for
// every answer (bounded by DeliveryTimeout), closes the clients and returns
// what each producer sent (and, in a transactional run, its transactions),
// with the moment it stopped waiting.
func (l *verifyLoad) produce(ctx context.Context, producers []*verifyProducer) ([][]sentRecord, [][]sentTxn, time.Time) {
	// Records are produced under a context the caller's cancellation does
	// not reach: an interrupted run stops sending but still waits for the
	// answers to what it sent.
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()

	done, stopped := make(chan struct{}), make(chan struct{})
	go runProgress(progressSource{
		kind:           "verify",
		fn:             l.cfg.Progress,
		interval:       l.cfg.ProgressInterval,
		targetDuration: l.cfg.Duration,
		t0:             l.start,
		start:          l.start,
		records:        l.acked.Load,
		bytes:          l.bytes.Load,
		errors:         func() int64 { return l.failed.Load() + l.unknown.Load() },
		lat:            l.lat,
		elapsed:        func(now time.Time) time.Duration { return now.Sub(l.start) },
	}, done, stopped)

	var wg sync.WaitGroup
	for _, p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if l.cfg.Transactional {
				l.txnLoop(ctx, pctx, p)
			} else {
				l.loop(ctx, pctx, p)
			}
		}()
	}
	wg.Wait()

	// kgo fails a record once it has waited DeliveryTimeout, so Flush
	// ends; the extra bound guards against a request that never returns.
	// Close then fails whatever is left, which the promises count as
	// unknown.
	fctx, cancelFlush := context.WithTimeout(pctx, l.cfg.DeliveryTimeout+10*time.Second)
	for _, p := range producers {
		_ = p.cl.Flush(fctx)
	}
	cancelFlush()
	for _, p := range producers {
		p.cl.Close()
	}
	ended := time.Now()
	close(done)
	<-stopped

	sent := make([][]sentRecord, len(producers))
	var txns [][]sentTxn
	if l.cfg.Transactional {
		txns = make([][]sentTxn, len(producers))
	}
	for i, p := range producers {
		p.mu.Lock()
		sent[i] = slices.Clone(p.recs)
		if txns != nil {
			txns[i] = slices.Clone(p.txns)
		}
		p.mu.Unlock()
	}
	return sent, txns, ended
}

// loop sends records on p until the load ends.
func (l *verifyLoad) loop(ctx, pctx context.Context, p *verifyProducer) {
	pace := l.newPacer(p)
	for {
		slot, now, ok := pace.next(ctx)
		if !ok {
			return
		}
		l.send(pctx, p, pace.rng, slot, now, 0)
	}
}

// pacer hands one producer its slots of the load: the rate schedule and the
// partition round robin are shared by all producers.
type pacer struct {
	l        *verifyLoad
	rng      *rand.Rand
	interval time.Duration
	timer    *time.Timer
}

func (l *verifyLoad) newPacer(p *verifyProducer) *pacer {
	pc := &pacer{l: l, rng: rand.New(rand.NewPCG(l.run, uint64(p.id))), timer: time.NewTimer(time.Hour)}
	pc.timer.Stop()
	if l.cfg.Rate > 0 {
		pc.interval = time.Duration(float64(time.Second) / l.cfg.Rate)
	}
	return pc
}

// next claims the next slot and waits for its time; ok is false when the
// load has ended or ctx did.
func (pc *pacer) next(ctx context.Context) (slot int64, now time.Time, ok bool) {
	l := pc.l
	if ctx.Err() != nil {
		return 0, time.Time{}, false
	}
	slot = l.slot.Add(1) - 1
	if pc.interval > 0 {
		at := l.start.Add(time.Duration(slot) * pc.interval)
		if at.After(l.end) {
			return 0, time.Time{}, false
		}
		if lead := time.Until(at); lead > time.Millisecond {
			pc.timer.Reset(lead)
			select {
			case <-ctx.Done():
				pc.timer.Stop()
				return 0, time.Time{}, false
			case <-pc.timer.C:
			}
		}
	}
	now = time.Now()
	if !now.Before(l.end) {
		return 0, time.Time{}, false
	}
	return slot, now, true
}

// send produces the record of slot on p, marked with flags, and returns its
// sequence number.
func (l *verifyLoad) send(pctx context.Context, p *verifyProducer, rng *rand.Rand, slot int64, now time.Time, flags recordFlags) uint64 {
	partition := int32(slot % int64(l.partitions))
	value := l.payloads.next(rng)
	p.mu.Lock()
	seq := len(p.recs)
	p.recs = append(p.recs, sentRecord{partition: partition, sentAt: now.UnixNano()})
	p.mu.Unlock()
	rec := &kgo.Record{
		Topic:     l.cfg.Topic,
		Partition: partition,
		Key:       verifyKey(l.run, recordID{p.id, uint64(seq)}, partition, flags, value),
		Value:     value,
		Timestamp: now,
	}
	p.cl.Produce(pctx, rec, l.promise(p, seq))
	return uint64(seq)
}

// promise returns the callback that records the answer to p's record seq.
func (l *verifyLoad) promise(p *verifyProducer, seq int) func(*kgo.Record, error) {
	return func(rec *kgo.Record, err error) {
		now := time.Now()
		o := answerOutcome(err)
		p.mu.Lock()
		s := &p.recs[seq]
		s.outcome, s.doneAt = o, now.UnixNano()
		if o == outcomeAcked {
			s.offset = rec.Offset
		}
		sentAt := s.sentAt
		p.mu.Unlock()
		switch o {
		case outcomeAcked:
			l.acked.Add(1)
			l.bytes.Add(int64(len(rec.Value)))
			l.lat.Record(now.Sub(time.Unix(0, sentAt)))
			return
		case outcomeFailed:
			l.failed.Add(1)
		default:
			l.unknown.Add(1)
		}
		l.mu.Lock()
		l.errs[err.Error()]++
		l.mu.Unlock()
	}
}

// answerOutcome classifies a produce answer. Only a broker's non-retriable
// error says the record was refused; every other error (a timeout, retries
// exhausted on a retriable error, the client closing) leaves its fate
// unknown: it may be in the log.
func answerOutcome(err error) outcome {
	if err == nil {
		return outcomeAcked
	}
	var ke *kerr.Error
	if errors.As(err, &ke) && !ke.Retriable {
		return outcomeFailed
	}
	return outcomeUnknown
}
