// Package bench is chronik's Kafka-protocol load generator: it drives produce
// and consume load against any Kafka-compatible broker (or an in-process
// chronik cluster), records latencies in HDR histograms and prints reports.
// `chronik bench produce` and `chronik bench consume` only parse flags and
// call it.
//
// # Usage
//
//	cfg := bench.DefaultProduceConfig()
//	cfg.Brokers = []string{"127.0.0.1:9092"}
//	cfg.Records = 1_000_000
//	cfg.Progress = bench.NewProgressWriter(os.Stdout, bench.IsTerminal(os.Stdout))
//	res, err := bench.Produce(ctx, cfg)
//	if err != nil {
//		return err
//	}
//	bench.WriteText(os.Stdout, res) // or bench.WriteJSON
//
// To run against chronik without starting anything else, start an embedded
// cluster first and point the config at its brokers:
//
//	cl, err := bench.StartEmbedded(ctx, bench.EmbeddedConfig{Nodes: 3})
//	if err != nil {
//		return err
//	}
//	defer cl.Close()
//	cfg.Brokers = cl.Brokers()
//
// Consume reads a topic from its start the same way (ConsumeConfig).
//
// Verify checks that a cluster keeps what it acknowledges: it produces
// numbered, checksummed records with acks=all, reads every partition back
// (twice, from whichever broker leads it) and reports per partition what
// was lost, duplicated, reordered or inconsistent, and the longest time a
// partition accepted no write. It speaks only Kafka, so it checks any
// Kafka-compatible cluster, and it is the checker of chronik's fault tests:
//
//	vc := bench.DefaultVerifyConfig()
//	vc.Brokers = cl.Brokers()
//	vc.ReplicationFactor = 3
//	vc.Duration = 30 * time.Second
//	res, err := bench.Verify(ctx, vc)
//	if err != nil {
//		return err // could not run: bad config, brokers unreachable
//	}
//	bench.WriteVerifyText(os.Stdout, res) // or bench.WriteVerifyJSON
//	if !res.OK() {
//		return fmt.Errorf("verify: %s", strings.Join(res.Problems(), "; "))
//	}
//
// With vc.Transactional the producers send their records in transactions,
// abort every vc.AbortEvery-th on purpose, and the read-back is
// read_committed: the check then proves exactly once, that no aborted
// record is read, every committed one is read once, and a transaction whose
// commit went unanswered is read whole or not at all.
//
// # What the figures mean
//
//  1. Every record is accounted for: Result.Sent == Acked + Failed. A record
//     that fails after the client's retries (or DeliveryTimeout) is counted
//     in Failed and its error in Errors; it is never dropped from the report.
//  2. The warm-up is excluded: records enqueued during it count nowhere
//     except WarmupRecords. The clock starts when the warm-up ends and stops
//     when the last acknowledgement of a measured record arrives, so
//     records/s = Acked / Elapsed includes draining the client's buffer.
//  3. Produce latency runs from enqueue (just before the client's Produce
//     call, so time blocked on a full buffer counts) to the acknowledgement
//     callback. With a Rate it runs from the record's scheduled send time,
//     so a broker that cannot sustain the rate shows it in the percentiles
//     instead of silently slowing the sender (coordinated omission).
//  4. Percentiles come from an HDR histogram (1 µs to 1 h, 3 significant
//     digits) and are reported in milliseconds; Min and Max are exact.
//  5. MiB/s counts record value bytes (2^20 per MiB), the "MB/sec" of
//     kafka-producer-perf-test; keys and headers are not counted.
//  6. Each produced record carries a TimestampHeader with its send time, so
//     Consume measures end-to-end latency (send to receipt) when it runs
//     beside a producer on the same machine.
//
// # Implementation notes
//
// The client is franz-go's kgo, one client per producer, with Kafka's
// producer defaults where the issue leaves a choice open (32 MiB buffer,
// 5 requests in flight, linger 5 ms). Record values are slices of one
// read-only random or text pool, so producing costs no per-record copy.
// Counters are atomics and the histogram takes a mutex per record; both are
// far below the cost of a record on the wire (see BenchmarkRecorder).
package bench
