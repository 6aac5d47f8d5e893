package bench

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Verify checks that a Kafka-compatible cluster keeps what it acknowledges.
//
// It creates cfg.Topic when missing and notes where each partition ends.
// Then cfg.Producers clients send numbered records with acks=all for
// cfg.Duration, round robin over the partitions at cfg.Rate, each record
// carrying its run, producer, sequence number, partition and a checksum in
// its key. Every answer is recorded: acknowledged (with its offset),
// failed, or unknown. When the load ends, cfg.ReadPasses passes read every
// partition back from where it ended before the load up to its high
// watermark, each with a new client, from whichever broker then leads it.
// The checker compares the passes with each other and the last pass with
// the producers' records; see VerifyCounts for what it counts and
// VerifyResult.OK for what fails.
//
// With cfg.Transactional each producer has a transactional id of its own
// and sends its records in transactions of cfg.TxnRecords, one after the
// other, aborting every cfg.AbortEvery-th on purpose once its records are
// written; the read passes are read_committed. Every transaction's outcome
// is recorded: committed, aborted, or unknown when its commit was not
// answered. Records of committed transactions are owed exactly once,
// records of aborted ones never, and a transaction of unknown outcome is
// read entirely or not at all (see verify_txn.go).
//
// Failures of the cluster are results, not errors: Verify returns an error
// only for an invalid config, or when the brokers cannot be reached, the
// topic cannot be created or its offsets cannot be listed before the load.
// When ctx ends, Verify stops sending, waits for the answers to what it
// sent, skips the read-back and returns the result with Interrupted set
// (which fails the check).
func Verify(ctx context.Context, cfg VerifyConfig) (VerifyResult, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return VerifyResult{}, err
	}
	v := &verifier{cfg: cfg, log: logger(cfg.Logger), run: rand.Uint64(), fp: newFingerprinter(), readErrs: map[string]int64{}}

	producers := make([]*verifyProducer, 0, cfg.Producers)
	closed := false
	defer func() {
		if !closed {
			for _, p := range producers {
				p.cl.Close()
			}
		}
	}()
	for i := range cfg.Producers {
		cl, err := kgo.NewClient(verifyProduceOpts(cfg, v.run, i)...)
		if err != nil {
			return VerifyResult{}, fmt.Errorf("bench: verify producer %d: new client: %w", i, err)
		}
		producers = append(producers, &verifyProducer{id: uint32(i), cl: cl})
	}
	partitions, err := ensureTopic(ctx, producers[0].cl, cfg.Topic, cfg.Partitions, cfg.ReplicationFactor)
	if err != nil {
		return VerifyResult{}, err
	}
	v.partitions = partitions
	lctx, cancel := context.WithTimeout(ctx, topicReadyTimeout)
	preEnds, err := listOffsets(lctx, kadm.NewClient(producers[0].cl), cfg.Topic, partitions, true)
	cancel()
	if err != nil {
		return VerifyResult{}, fmt.Errorf("bench: verify: %w", err)
	}
	if cfg.Transactional {
		// Load each producer's id now: the broker may first have to load
		// its transaction coordinator, which must not eat into the load.
		for _, p := range producers {
			ictx, cancel := context.WithTimeout(ctx, topicReadyTimeout)
			_, _, err := p.cl.ProducerID(ictx)
			cancel()
			if err != nil {
				return VerifyResult{}, fmt.Errorf("bench: verify producer %d: transactional producer id: %w", p.id, err)
			}
		}
	}
	v.log.Info("verify starting", "topic", cfg.Topic, "partitions", partitions, "run", fmt.Sprintf("%016x", v.run),
		"brokers", strings.Join(cfg.Brokers, ","), "producers", cfg.Producers, "idempotent", cfg.Idempotent,
		"transactional", cfg.Transactional)

	load := &verifyLoad{
		cfg:        cfg,
		run:        v.run,
		partitions: partitions,
		payloads:   newPayloads("random", cfg.RecordSize, v.run),
		lat:        newRecorder(),
		errs:       map[string]int64{},
	}
	load.start = time.Now()
	load.end = load.start.Add(cfg.Duration)
	closed = true // produce closes the clients
	sent, txns, ended := load.produce(ctx, producers)

	res := VerifyResult{
		Run:           fmt.Sprintf("%016x", v.run),
		Idempotent:    cfg.Idempotent,
		Transactional: cfg.Transactional,
		Started:       load.start,
		Load:          ended.Sub(load.start),
		Latency:       load.lat.Summary(),
		Interrupted:   ctx.Err() != nil,
		Settings:      verifySettings(cfg, partitions),
	}
	load.mu.Lock()
	res.ProduceErrors = errorCounts(load.errs)
	load.mu.Unlock()

	// Read from where each partition ended before the load, or from the
	// lowest acknowledged offset if a broker acknowledged below that.
	starts := append([]int64(nil), preEnds...)
	for _, recs := range sent {
		for _, s := range recs {
			if s.outcome == outcomeAcked && s.partition >= 0 && s.partition < partitions && s.offset < starts[s.partition] {
				starts[s.partition] = max(0, s.offset)
			}
		}
	}
	readStart := time.Now()
	var passes []readPass
	for n := 1; n <= cfg.ReadPasses && ctx.Err() == nil; n++ {
		passes = append(passes, v.readPass(ctx, n, starts))
	}
	res.ReadBack = time.Since(readStart)
	res.ReadPasses = len(passes)
	res.Interrupted = res.Interrupted || ctx.Err() != nil

	out := check(checkInput{partitions: partitions, sent: sent, passes: passes, maxFindings: cfg.MaxFindings,
		transactional: cfg.Transactional, txns: txns})
	res.Totals, res.Partitions, res.Findings, res.Transactions = out.totals, out.parts, out.findings, out.txns
	for i, s := range longestStalls(sent, partitions, ended.UnixNano()) {
		p := &res.Partitions[i]
		p.LongestStall = s.dur
		if s.dur > 0 {
			p.StallStart = time.Unix(0, s.start).Sub(load.start)
		}
		res.LongestStall = max(res.LongestStall, s.dur)
	}
	res.finish()
	v.mu.Lock()
	res.ReadErrors = errorCounts(v.readErrs)
	v.mu.Unlock()
	v.log.Info("verify done", "topic", cfg.Topic, "ok", res.OK(), "acked", res.Totals.Acked, "lost", res.Totals.Lost)
	return res, nil
}

// verifier is the state of one Verify call shared by its read passes.
type verifier struct {
	cfg        VerifyConfig
	log        *slog.Logger
	run        uint64
	fp         fingerprinter
	partitions int32

	mu       sync.Mutex
	readErrs map[string]int64
}

func (v *verifier) readError(msg string) {
	v.mu.Lock()
	v.readErrs[msg]++
	v.mu.Unlock()
}

// verifySettings lists the effective settings by flag name.
func verifySettings(cfg VerifyConfig, partitions int32) map[string]string {
	rf := "broker-default"
	if cfg.ReplicationFactor > 0 {
		rf = strconv.Itoa(int(cfg.ReplicationFactor))
	}
	s := map[string]string{
		"brokers":            strings.Join(cfg.Brokers, ","),
		"topic":              cfg.Topic,
		"partitions":         strconv.Itoa(int(partitions)),
		"replication-factor": rf,
		"producers":          strconv.Itoa(cfg.Producers),
		"duration":           cfg.Duration.String(),
		"rate":               strconv.FormatFloat(cfg.Rate, 'g', -1, 64),
		"record-size":        strconv.Itoa(cfg.RecordSize),
		"acks":               "all",
		"idempotent":         strconv.FormatBool(cfg.Idempotent),
		"delivery-timeout":   cfg.DeliveryTimeout.String(),
		"read-passes":        strconv.Itoa(cfg.ReadPasses),
		"read-timeout":       cfg.ReadTimeout.String(),
	}
	if cfg.Transactional {
		s["transactional"] = "true"
		s["txn-records"] = strconv.Itoa(cfg.TxnRecords)
		s["abort-every"] = strconv.Itoa(cfg.AbortEvery)
	}
	return s
}
