package coordinator

import (
	"errors"
	"fmt"
	"time"
)

// OffsetsTopic is the internal topic holding committed offsets and group
// metadata.
const OffsetsTopic = "__consumer_offsets"

// Config configures the group coordinator. Zero values mean the default
// noted on each field.
type Config struct {
	// OffsetsTopicPartitions is the partition count of __consumer_offsets
	// when this broker creates it (offsets.topic.num.partitions). Default 16.
	// An existing topic keeps its count.
	OffsetsTopicPartitions int32
	// OffsetsTopicReplicationFactor is its replication factor
	// (offsets.topic.replication.factor). Default min(3, brokers).
	OffsetsTopicReplicationFactor int16
	// OffsetsRetention is how long the offsets of an empty group are kept
	// after the group became empty (or, for groups that never had members,
	// after their last commit): offsets.retention.minutes. Default 7 days.
	OffsetsRetention time.Duration
	// RetentionCheckInterval is how often expired offsets are looked for
	// (offsets.retention.check.interval.ms). Default 10 minutes.
	RetentionCheckInterval time.Duration
	// MinSessionTimeout and MaxSessionTimeout bound a member's session
	// timeout (group.min/max.session.timeout.ms). Defaults 6s and 30 min.
	MinSessionTimeout time.Duration
	MaxSessionTimeout time.Duration
	// InitialRebalanceDelay delays the first rebalance of an empty group so
	// that members starting together join one generation
	// (group.initial.rebalance.delay.ms). Default 3s; negative = none.
	InitialRebalanceDelay time.Duration
	// MaxMetadataBytes bounds a commit's metadata string
	// (offset.metadata.max.bytes). Default 4096.
	MaxMetadataBytes int
	// PollInterval is how often leadership of the __consumer_offsets
	// partitions is checked. Default 100ms.
	PollInterval time.Duration
	// ConsumerSessionTimeout is how long a member of a KIP-848 consumer
	// group stays without heartbeating before it is removed
	// (group.consumer.session.timeout.ms). Default 45s.
	ConsumerSessionTimeout time.Duration
	// ConsumerHeartbeatInterval is the heartbeat interval told to KIP-848
	// consumers (group.consumer.heartbeat.interval.ms). Default 5s; it
	// must be below ConsumerSessionTimeout.
	ConsumerHeartbeatInterval time.Duration
	// ShareRecordLockDuration is how long a share group member holds a
	// record it acquired before the record is released to others
	// (group.share.record.lock.duration.ms; a group's
	// share.record.lock.duration.ms overrides it). Default 30s.
	ShareRecordLockDuration time.Duration
	// ShareDeliveryCountLimit is how often a share group record is
	// delivered before it is archived instead
	// (group.share.delivery.count.limit; a group's
	// share.delivery.count.limit overrides it). Default 5.
	ShareDeliveryCountLimit int
	// ShareSessionTimeout is how long a share group member stays without
	// heartbeating (group.share.session.timeout.ms). Default 45s.
	ShareSessionTimeout time.Duration
	// ShareHeartbeatInterval is the heartbeat interval told to share group
	// members (group.share.heartbeat.interval.ms). Default 5s; it must be
	// below ShareSessionTimeout.
	ShareHeartbeatInterval time.Duration
}

// WithDefaults returns c with every zero field set to its default (and a
// negative InitialRebalanceDelay to 0).
func (c Config) WithDefaults() Config {
	c.setDefaults()
	return c
}

func (c *Config) setDefaults() {
	if c.OffsetsTopicPartitions == 0 {
		c.OffsetsTopicPartitions = 16
	}
	if c.OffsetsRetention == 0 {
		c.OffsetsRetention = 7 * 24 * time.Hour
	}
	if c.RetentionCheckInterval == 0 {
		c.RetentionCheckInterval = 10 * time.Minute
	}
	if c.MinSessionTimeout == 0 {
		c.MinSessionTimeout = 6 * time.Second
	}
	if c.MaxSessionTimeout == 0 {
		c.MaxSessionTimeout = 30 * time.Minute
	}
	if c.InitialRebalanceDelay == 0 {
		c.InitialRebalanceDelay = 3 * time.Second
	}
	if c.InitialRebalanceDelay < 0 {
		c.InitialRebalanceDelay = 0
	}
	if c.MaxMetadataBytes == 0 {
		c.MaxMetadataBytes = 4096
	}
	if c.PollInterval == 0 {
		c.PollInterval = 100 * time.Millisecond
	}
	if c.ConsumerSessionTimeout == 0 {
		c.ConsumerSessionTimeout = 45 * time.Second
	}
	if c.ConsumerHeartbeatInterval == 0 {
		c.ConsumerHeartbeatInterval = 5 * time.Second
	}
	if c.ShareRecordLockDuration == 0 {
		c.ShareRecordLockDuration = 30 * time.Second
	}
	if c.ShareDeliveryCountLimit == 0 {
		c.ShareDeliveryCountLimit = 5
	}
	if c.ShareSessionTimeout == 0 {
		c.ShareSessionTimeout = 45 * time.Second
	}
	if c.ShareHeartbeatInterval == 0 {
		c.ShareHeartbeatInterval = 5 * time.Second
	}
}

// Validate reports every field with a bad value, joined (nil if none).
func (c Config) Validate() error {
	var errs []error
	if c.OffsetsTopicPartitions < 0 {
		errs = append(errs, fmt.Errorf("coordinator: OffsetsTopicPartitions (%d) must be >= 0", c.OffsetsTopicPartitions))
	}
	if c.OffsetsTopicReplicationFactor < 0 {
		errs = append(errs, fmt.Errorf("coordinator: OffsetsTopicReplicationFactor (%d) must be >= 0", c.OffsetsTopicReplicationFactor))
	}
	if c.MinSessionTimeout < 0 || c.MaxSessionTimeout < 0 || (c.MaxSessionTimeout != 0 && c.MinSessionTimeout > c.MaxSessionTimeout) {
		errs = append(errs, fmt.Errorf("coordinator: MinSessionTimeout (%s) and MaxSessionTimeout (%s) must be >= 0 and ordered", c.MinSessionTimeout, c.MaxSessionTimeout))
	}
	if c.OffsetsRetention < 0 || c.RetentionCheckInterval < 0 || c.PollInterval < 0 || c.MaxMetadataBytes < 0 {
		errs = append(errs, errors.New("coordinator: durations and MaxMetadataBytes must be >= 0"))
	}
	if c.ConsumerSessionTimeout < 0 || c.ConsumerHeartbeatInterval < 0 ||
		(c.ConsumerSessionTimeout != 0 && c.ConsumerHeartbeatInterval != 0 && c.ConsumerHeartbeatInterval >= c.ConsumerSessionTimeout) {
		errs = append(errs, fmt.Errorf("coordinator: ConsumerHeartbeatInterval (%s) must be >= 0 and below ConsumerSessionTimeout (%s)", c.ConsumerHeartbeatInterval, c.ConsumerSessionTimeout))
	}
	if c.ShareRecordLockDuration < 0 || c.ShareRecordLockDuration > 1<<31*time.Millisecond {
		errs = append(errs, fmt.Errorf("coordinator: ShareRecordLockDuration (%s) must be >= 0 and fit in int32 milliseconds", c.ShareRecordLockDuration))
	}
	if c.ShareDeliveryCountLimit < 0 || c.ShareDeliveryCountLimit > 1<<15-1 {
		errs = append(errs, fmt.Errorf("coordinator: ShareDeliveryCountLimit (%d) must be in 0..32767", c.ShareDeliveryCountLimit))
	}
	if c.ShareSessionTimeout < 0 || c.ShareHeartbeatInterval < 0 ||
		(c.ShareSessionTimeout != 0 && c.ShareHeartbeatInterval != 0 && c.ShareHeartbeatInterval >= c.ShareSessionTimeout) {
		errs = append(errs, fmt.Errorf("coordinator: ShareHeartbeatInterval (%s) must be >= 0 and below ShareSessionTimeout (%s)", c.ShareHeartbeatInterval, c.ShareSessionTimeout))
	}
	return errors.Join(errs...)
}
