package bench

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Limits enforced by VerifyConfig.Validate.
const (
	// MaxReadPasses bounds VerifyConfig.ReadPasses.
	MaxReadPasses = 5
	// MaxTxnRecords bounds VerifyConfig.TxnRecords.
	MaxTxnRecords = 100_000
)

// VerifyConfig configures Verify. Start from DefaultVerifyConfig; Verify
// fills zero values with the defaults, calls Validate and refuses an invalid
// config. Acks are always "all": a record counts as acknowledged only when
// every in-sync replica has it, which is the promise Verify checks.
type VerifyConfig struct {
	// Brokers are the seed brokers, host:port. Default ["127.0.0.1:9092"].
	Brokers []string
	// Topic receives the records; created when missing. Default "verify".
	// Records already in it (from earlier runs or other writers) are read
	// past, not checked: each run marks its records with a run id of its
	// own.
	Topic string
	// Partitions of the topic when Verify creates it. Default 8. An existing
	// topic is used as it is.
	Partitions int32
	// ReplicationFactor of the topic when Verify creates it; 0 (the default)
	// leaves it to the broker's default.
	ReplicationFactor int16

	// Producers is the number of independent clients, each with its own
	// connections, producer id and sequence numbers. Default 1.
	Producers int
	// Duration is how long records are produced. Default 60s.
	Duration time.Duration
	// Rate caps the records produced per second across all producers.
	// Default 2000, so a fault suite checks the cluster without saturating
	// it; 0 means as fast as acknowledgements allow. Verify checks in
	// memory, about 400 bytes per record with two read passes, so mind
	// long unlimited runs.
	Rate float64
	// RecordSize is the size of each record value in bytes. Default 256.
	// Every record also carries a 40-byte key with its identity and
	// checksum.
	RecordSize int
	// Idempotent enables the idempotent producer. DefaultVerifyConfig sets
	// it, as Kafka clients do by default since 3.0; a VerifyConfig built
	// from scratch has it off. Without it the client retries plainly, which
	// may legitimately duplicate and reorder records: Verify then counts
	// duplicates and reorders but does not fail on them.
	Idempotent bool
	// DeliveryTimeout bounds how long one record may wait for its
	// acknowledgement, retries included; a record not answered by then
	// counts as unknown. Default 30s.
	DeliveryTimeout time.Duration

	// Transactional makes every producer transactional, with a
	// transactional id of its own, and the read-back read_committed. The
	// check then also proves exactly-once delivery: no record of an aborted
	// transaction is ever read, every record of a committed transaction is
	// read exactly once, and a transaction whose commit went unanswered
	// (its outcome unknown) is read entirely or not at all. Requires
	// Idempotent.
	Transactional bool
	// TxnRecords is the number of records per transaction, round robin
	// over the partitions like all records, so most transactions span
	// every partition. Default 100. Transactions are produced one after
	// the other per producer: each waits for its records' answers and its
	// commit before the next begins.
	TxnRecords int
	// AbortEvery aborts every AbortEvery-th transaction of each producer
	// on purpose, after its records are written, so that read_committed
	// has aborted records to hide. DefaultVerifyConfig sets 5; 0 (a
	// VerifyConfig built from scratch) never aborts on purpose.
	AbortEvery int

	// ReadPasses is how many times the topic is read back after the load,
	// each time with a new client (fresh metadata, so from whichever broker
	// leads each partition then). Every pass must agree with the others
	// offset by offset. Default 2.
	ReadPasses int
	// ReadTimeout bounds each read-back pass; a partition not read to its
	// high watermark by then is reported incomplete and fails the check.
	// Default 60s.
	ReadTimeout time.Duration
	// FetchMaxBytes caps one fetch response. Default 50 MiB (Kafka's).
	FetchMaxBytes int32
	// MaxFindings caps the individual problems listed in the result (the
	// counts are always complete). Default 20.
	MaxFindings int

	// Progress, if set, is called every ProgressInterval while records are
	// produced (Kind "verify") and while they are read back (Kind "read"),
	// and once more at the end of each phase (Done set). Called from one
	// goroutine at a time.
	Progress func(Progress) `json:"-"`
	// ProgressInterval is the period of Progress calls. Default 1s.
	ProgressInterval time.Duration `json:"-"`
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger `json:"-"`
}

// DefaultVerifyConfig returns a VerifyConfig with every default filled in.
func DefaultVerifyConfig() VerifyConfig {
	return VerifyConfig{
		Brokers:          []string{"127.0.0.1:9092"},
		Topic:            "verify",
		Partitions:       8,
		Producers:        1,
		Duration:         60 * time.Second,
		Rate:             2000,
		RecordSize:       256,
		Idempotent:       true,
		DeliveryTimeout:  30 * time.Second,
		TxnRecords:       100,
		AbortEvery:       5,
		ReadPasses:       2,
		ReadTimeout:      60 * time.Second,
		FetchMaxBytes:    50 << 20,
		MaxFindings:      20,
		ProgressInterval: time.Second,
	}
}

// withDefaults fills zero values that have a default and no other meaning.
// Rate 0 (unlimited), RecordSize 0, Idempotent false and AbortEvery 0 are
// meaningful and kept.
func (c VerifyConfig) withDefaults() VerifyConfig {
	d := DefaultVerifyConfig()
	if len(c.Brokers) == 0 {
		c.Brokers = d.Brokers
	}
	if c.Topic == "" {
		c.Topic = d.Topic
	}
	if c.Partitions == 0 {
		c.Partitions = d.Partitions
	}
	if c.Producers == 0 {
		c.Producers = d.Producers
	}
	if c.Duration == 0 {
		c.Duration = d.Duration
	}
	if c.DeliveryTimeout == 0 {
		c.DeliveryTimeout = d.DeliveryTimeout
	}
	if c.TxnRecords == 0 {
		c.TxnRecords = d.TxnRecords
	}
	if c.ReadPasses == 0 {
		c.ReadPasses = d.ReadPasses
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = d.ReadTimeout
	}
	if c.FetchMaxBytes == 0 {
		c.FetchMaxBytes = d.FetchMaxBytes
	}
	if c.MaxFindings == 0 {
		c.MaxFindings = d.MaxFindings
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = d.ProgressInterval
	}
	return c
}

// Validate reports every problem with c as it is, each naming the field and
// its value, joined with errors.Join. Verify fills zero values with their
// defaults before it validates; Validate does not.
func (c VerifyConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("bench: "+format, args...)) }

	errs = append(errs, validateBrokers(c.Brokers)...)
	if len(c.Brokers) == 0 {
		bad("Brokers []: at least one seed broker is needed")
	}
	if err := validateTopic(c.Topic); err != nil {
		errs = append(errs, err)
	}
	if c.Partitions < 1 {
		bad("Partitions %d: must be at least 1", c.Partitions)
	}
	if c.ReplicationFactor < 0 {
		bad("ReplicationFactor %d: must be at least 1 (or 0 for the broker's default)", c.ReplicationFactor)
	}
	if c.Producers < 1 || c.Producers > MaxProducers {
		bad("Producers %d: must be between 1 and %d", c.Producers, MaxProducers)
	}
	if c.Duration <= 0 {
		bad("Duration %s: must be positive", c.Duration)
	}
	if c.Rate < 0 {
		bad("Rate %g: must not be negative (0 means unlimited)", c.Rate)
	}
	// The identity and checksum travel in the key, so an empty value is
	// fine.
	if c.RecordSize < 0 || c.RecordSize > MaxRecordSize {
		bad("RecordSize %d: must be between 0 and %d bytes", c.RecordSize, MaxRecordSize)
	}
	if c.DeliveryTimeout < time.Second {
		bad("DeliveryTimeout %s: must be at least 1s", c.DeliveryTimeout)
	}
	if c.Transactional && !c.Idempotent {
		bad("Transactional true with Idempotent false: transactions need the idempotent producer")
	}
	if c.TxnRecords < 1 || c.TxnRecords > MaxTxnRecords {
		bad("TxnRecords %d: must be between 1 and %d", c.TxnRecords, MaxTxnRecords)
	}
	if c.AbortEvery < 0 {
		bad("AbortEvery %d: must not be negative (0 never aborts on purpose)", c.AbortEvery)
	}
	if c.ReadPasses < 1 || c.ReadPasses > MaxReadPasses {
		bad("ReadPasses %d: must be between 1 and %d", c.ReadPasses, MaxReadPasses)
	}
	if c.ReadTimeout <= 0 {
		bad("ReadTimeout %s: must be positive", c.ReadTimeout)
	}
	if c.FetchMaxBytes < MinBatchMaxBytes {
		bad("FetchMaxBytes %d: must be at least %d bytes", c.FetchMaxBytes, MinBatchMaxBytes)
	}
	if c.MaxFindings < 0 {
		bad("MaxFindings %d: must not be negative", c.MaxFindings)
	}
	if c.ProgressInterval <= 0 {
		bad("ProgressInterval %s: must be positive", c.ProgressInterval)
	}
	return errors.Join(errs...)
}
