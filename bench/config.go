package bench

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// Limits enforced by Validate.
const (
	// MaxRecordSize is the largest RecordSize accepted: 16 MiB, well above
	// any broker's default max.message.bytes (1 MiB).
	MaxRecordSize = 16 << 20
	// MinBatchMaxBytes and MaxBatchMaxBytes bound BatchMaxBytes. The upper
	// bound is the Kafka protocol's practical limit for one record batch.
	MinBatchMaxBytes = 1 << 10
	MaxBatchMaxBytes = 1 << 30
	// MaxProducers bounds Producers (one Kafka client each).
	MaxProducers = 256
	// MaxInFlightIdempotent is the number of produce requests in flight per
	// broker that an idempotent producer always uses (Kafka's limit).
	MaxInFlightIdempotent = 5
)

// Names accepted by ProduceConfig's string settings.
var (
	// Codecs are the values of ProduceConfig.Compression.
	Codecs = []string{"none", "gzip", "snappy", "lz4", "zstd"}
	// AcksValues are the values of ProduceConfig.Acks.
	AcksValues = []string{"all", "1", "0"}
	// KeyModes are the values of ProduceConfig.Keys.
	KeyModes = []string{"none", "random", "sequential"}
	// PayloadModes are the values of ProduceConfig.Payload.
	PayloadModes = []string{"random", "text"}
)

// ProduceConfig configures Produce. Start from DefaultProduceConfig; Produce
// fills zero values with the defaults, calls Validate and refuses an invalid
// config.
type ProduceConfig struct {
	// Brokers are the seed brokers, host:port. Default ["127.0.0.1:9092"].
	Brokers []string
	// Topic receives the load; created when missing. Default "bench".
	Topic string
	// Partitions of the topic when Produce creates it. Default 8. An
	// existing topic is used as it is (the report shows its real count).
	Partitions int32
	// ReplicationFactor of the topic when Produce creates it; 0 (the
	// default) leaves it to the broker's default.
	ReplicationFactor int16

	// RecordSize is the size of each record value in bytes. Default 1024.
	RecordSize int
	// Records is how many records to measure. Default 1,000,000. With
	// Duration also set, the run stops at whichever comes first; 0 means
	// "until Duration".
	Records int64
	// Duration bounds the measured phase (the warm-up is extra); 0 means
	// "until Records".
	Duration time.Duration
	// Warmup is produced first and excluded from every figure: records
	// enqueued during it count nowhere. Default 0.
	Warmup time.Duration

	// Acks is "all" (default), "1" or "0".
	Acks string
	// Compression is the producer's batch codec: "none" (default), "gzip",
	// "snappy", "lz4" or "zstd".
	Compression string
	// Linger is how long the client waits to fill a batch. Default 5ms.
	Linger time.Duration
	// BatchMaxBytes caps one record batch. Default 1 MiB.
	BatchMaxBytes int32
	// Producers is the number of independent clients (each with its own
	// connections and goroutine). Default 1.
	Producers int
	// MaxInFlight is the number of produce requests in flight per broker
	// and client. Default 5; an idempotent producer always uses 5.
	MaxInFlight int
	// Rate caps the total enqueue rate in records/s across all producers;
	// 0 (the default) means as fast as acknowledgements allow. With a rate,
	// latency is measured from each record's scheduled send time, so a
	// broker that falls behind shows it in the percentiles.
	Rate float64
	// Keys selects record keys: "none" (default), "random" (16 random hex
	// characters) or "sequential" (a 16-digit counter).
	Keys string
	// Payload selects record values: "random" bytes (default,
	// incompressible) or "text" (words, compresses like log lines).
	Payload string
	// Idempotent enables the idempotent producer (requires Acks "all").
	Idempotent bool
	// DeliveryTimeout bounds how long one record may wait for its
	// acknowledgement, retries included, before it counts as failed.
	// Default 30s.
	DeliveryTimeout time.Duration

	// Progress, if set, is called every ProgressInterval with a snapshot
	// and once more at the end (Done set). Called from one goroutine.
	Progress func(Progress) `json:"-"`
	// ProgressInterval is the period of Progress calls. Default 1s.
	ProgressInterval time.Duration `json:"-"`
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger `json:"-"`
}

// DefaultProduceConfig returns a ProduceConfig with every default filled in.
func DefaultProduceConfig() ProduceConfig {
	return ProduceConfig{
		Brokers:          []string{"127.0.0.1:9092"},
		Topic:            "bench",
		Partitions:       8,
		RecordSize:       1024,
		Records:          1_000_000,
		Acks:             "all",
		Compression:      "none",
		Linger:           5 * time.Millisecond,
		BatchMaxBytes:    1 << 20,
		Producers:        1,
		MaxInFlight:      5,
		Keys:             "none",
		Payload:          "random",
		DeliveryTimeout:  30 * time.Second,
		ProgressInterval: time.Second,
	}
}

// withDefaults fills zero values that have a default and no other meaning.
func (c ProduceConfig) withDefaults() ProduceConfig {
	d := DefaultProduceConfig()
	if len(c.Brokers) == 0 {
		c.Brokers = d.Brokers
	}
	if c.Topic == "" {
		c.Topic = d.Topic
	}
	if c.Partitions == 0 {
		c.Partitions = d.Partitions
	}
	if c.Acks == "" {
		c.Acks = d.Acks
	}
	if c.Compression == "" {
		c.Compression = d.Compression
	}
	if c.BatchMaxBytes == 0 {
		c.BatchMaxBytes = d.BatchMaxBytes
	}
	if c.Producers == 0 {
		c.Producers = d.Producers
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = d.MaxInFlight
	}
	if c.Keys == "" {
		c.Keys = d.Keys
	}
	if c.Payload == "" {
		c.Payload = d.Payload
	}
	if c.DeliveryTimeout == 0 {
		c.DeliveryTimeout = d.DeliveryTimeout
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = d.ProgressInterval
	}
	return c
}

// Validate reports every problem with c as it is, each naming the field and
// its value, joined with errors.Join. Produce fills zero values with their
// defaults before it validates; Validate does not, so a config built from
// DefaultProduceConfig with an explicit 0 (say BatchMaxBytes) is rejected
// rather than silently run with the default.
func (c ProduceConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("bench: "+format, args...)) }

	errs = append(errs, validateBrokers(c.Brokers)...)
	if err := validateTopic(c.Topic); err != nil {
		errs = append(errs, err)
	}
	if c.Partitions < 1 {
		bad("Partitions %d: must be at least 1", c.Partitions)
	}
	if c.ReplicationFactor < 0 {
		bad("ReplicationFactor %d: must be at least 1 (or 0 for the broker's default)", c.ReplicationFactor)
	}
	if c.RecordSize < 0 || c.RecordSize > MaxRecordSize {
		bad("RecordSize %d: must be between 0 and %d bytes", c.RecordSize, MaxRecordSize)
	}
	if c.Records < 0 {
		bad("Records %d: must not be negative", c.Records)
	}
	if c.Duration < 0 {
		bad("Duration %s: must not be negative", c.Duration)
	}
	if c.Records == 0 && c.Duration == 0 {
		bad("Records 0 and Duration 0: set a record count, a duration, or both")
	}
	if c.Warmup < 0 {
		bad("Warmup %s: must not be negative", c.Warmup)
	}
	if !oneOf(c.Acks, AcksValues) {
		bad("Acks %q: must be one of %s", c.Acks, strings.Join(AcksValues, ", "))
	}
	if !oneOf(c.Compression, Codecs) {
		bad("Compression %q: unknown codec, must be one of %s", c.Compression, strings.Join(Codecs, ", "))
	}
	if c.Linger < 0 || c.Linger > time.Minute {
		bad("Linger %s: must be between 0 and 1m", c.Linger)
	}
	if c.BatchMaxBytes < MinBatchMaxBytes || c.BatchMaxBytes > MaxBatchMaxBytes {
		bad("BatchMaxBytes %d: must be between %d and %d bytes", c.BatchMaxBytes, MinBatchMaxBytes, MaxBatchMaxBytes)
	} else if int64(c.RecordSize) > int64(c.BatchMaxBytes) {
		bad("RecordSize %d: larger than BatchMaxBytes %d, no record would fit in a batch", c.RecordSize, c.BatchMaxBytes)
	}
	if c.DeliveryTimeout == 0 {
		bad("DeliveryTimeout 0: must be positive")
	}
	if c.Producers < 1 || c.Producers > MaxProducers {
		bad("Producers %d: must be between 1 and %d", c.Producers, MaxProducers)
	}
	if c.MaxInFlight < 1 || c.MaxInFlight > 1000 {
		bad("MaxInFlight %d: must be between 1 and 1000", c.MaxInFlight)
	}
	if c.Idempotent && c.MaxInFlight != MaxInFlightIdempotent {
		bad("MaxInFlight %d: an idempotent producer always uses %d requests in flight", c.MaxInFlight, MaxInFlightIdempotent)
	}
	if c.Idempotent && c.Acks != "all" {
		bad("Acks %q: an idempotent producer requires acks all", c.Acks)
	}
	if c.Rate < 0 {
		bad("Rate %g: must not be negative (0 means unlimited)", c.Rate)
	}
	if !oneOf(c.Keys, KeyModes) {
		bad("Keys %q: must be one of %s", c.Keys, strings.Join(KeyModes, ", "))
	}
	if !oneOf(c.Payload, PayloadModes) {
		bad("Payload %q: must be one of %s", c.Payload, strings.Join(PayloadModes, ", "))
	}
	if c.DeliveryTimeout < 0 {
		bad("DeliveryTimeout %s: must be positive", c.DeliveryTimeout)
	}
	if c.ProgressInterval <= 0 {
		bad("ProgressInterval %s: must be positive", c.ProgressInterval)
	}
	return errors.Join(errs...)
}

// ConsumeConfig configures Consume. Start from DefaultConsumeConfig.
type ConsumeConfig struct {
	// Brokers are the seed brokers, host:port. Default ["127.0.0.1:9092"].
	Brokers []string
	// Topic is read from its earliest offset. Default "bench".
	Topic string
	// Group, if set, consumes as a member of this consumer group (with
	// offset commits); empty reads every partition directly.
	Group string
	// ShareGroup, if set, consumes as a member of this share group
	// (KIP-932): records are acquired from the broker and accepted as
	// they are polled. Consume sets the group's share.auto.offset.reset
	// to earliest first. Not with Group.
	ShareGroup string
	// Records is how many records to read. Default 0 with Duration 0 means
	// "everything up to the high watermarks seen at start" is not supported:
	// set Records, Duration or both; the run ends at whichever comes first.
	Records int64
	// Duration bounds the run from its first record; 0 means "until Records".
	Duration time.Duration
	// FetchMaxBytes caps one fetch response. Default 50 MiB (Kafka's).
	FetchMaxBytes int32
	// IdleTimeout ends the run, with an error, when no record arrives for
	// this long (also before the first one). Default 10s.
	IdleTimeout time.Duration

	// Progress, if set, is called every ProgressInterval and at the end.
	Progress func(Progress) `json:"-"`
	// ProgressInterval is the period of Progress calls. Default 1s.
	ProgressInterval time.Duration `json:"-"`
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger `json:"-"`
}

// DefaultConsumeConfig returns a ConsumeConfig with every default filled in.
func DefaultConsumeConfig() ConsumeConfig {
	return ConsumeConfig{
		Brokers:          []string{"127.0.0.1:9092"},
		Topic:            "bench",
		Records:          1_000_000,
		FetchMaxBytes:    50 << 20,
		IdleTimeout:      10 * time.Second,
		ProgressInterval: time.Second,
	}
}

func (c ConsumeConfig) withDefaults() ConsumeConfig {
	d := DefaultConsumeConfig()
	if len(c.Brokers) == 0 {
		c.Brokers = d.Brokers
	}
	if c.Topic == "" {
		c.Topic = d.Topic
	}
	if c.FetchMaxBytes == 0 {
		c.FetchMaxBytes = d.FetchMaxBytes
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = d.ProgressInterval
	}
	return c
}

// Validate reports every problem with c as it is, each naming the field and
// its value (Consume fills zero values with defaults first, as Produce does).
func (c ConsumeConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("bench: "+format, args...)) }
	errs = append(errs, validateBrokers(c.Brokers)...)
	if err := validateTopic(c.Topic); err != nil {
		errs = append(errs, err)
	}
	if c.Records < 0 {
		bad("Records %d: must not be negative", c.Records)
	}
	if c.Duration < 0 {
		bad("Duration %s: must not be negative", c.Duration)
	}
	if c.Group != "" && c.ShareGroup != "" {
		bad("Group %q and ShareGroup %q: set at most one", c.Group, c.ShareGroup)
	}
	if c.Records == 0 && c.Duration == 0 {
		bad("Records 0 and Duration 0: set a record count, a duration, or both")
	}
	if c.FetchMaxBytes < MinBatchMaxBytes {
		bad("FetchMaxBytes %d: must be at least %d bytes", c.FetchMaxBytes, MinBatchMaxBytes)
	}
	if c.IdleTimeout <= 0 {
		bad("IdleTimeout %s: must be positive", c.IdleTimeout)
	}
	if c.ProgressInterval <= 0 {
		bad("ProgressInterval %s: must be positive", c.ProgressInterval)
	}
	return errors.Join(errs...)
}

func validateBrokers(brokers []string) []error {
	var errs []error
	for i, b := range brokers {
		host, port, err := net.SplitHostPort(strings.TrimSpace(b))
		if err == nil && host == "" {
			err = errors.New("empty host")
		}
		if err == nil {
			var p uint64
			p, err = strconv.ParseUint(port, 10, 16)
			if err == nil && p == 0 {
				err = errors.New("port 0")
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("bench: Brokers[%d] %q: want host:port: %v", i, b, err))
		}
	}
	return errs
}

// validateTopic applies Kafka's topic name rules: 1 to 249 characters of
// [a-zA-Z0-9._-].
func validateTopic(t string) error {
	if t == "" || len(t) > 249 || t == "." || t == ".." {
		return fmt.Errorf("bench: Topic %q: must be 1 to 249 characters and not \".\" or \"..\"", t)
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("bench: Topic %q: character %q not allowed (use a-z, A-Z, 0-9, '.', '_', '-')", t, r)
		}
	}
	return nil
}

func oneOf(s string, set []string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}
