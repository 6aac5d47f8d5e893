package engine

// This file holds the public value types of the engine API. The Engine methods
// live in engine.go.

import "time"

// Special offsets for ListOffsets, as in Kafka's ListOffsets request.
const (
	Latest       int64 = -1  // the high watermark (next offset to be written)
	Earliest     int64 = -2  // the log start offset
	MaxTimestamp int64 = -3  // the offset of the record with the largest timestamp
	LastStable   int64 = -10 // the last stable offset, Latest for read_committed readers (chronik's own value, not Kafka's)
)

// Record is one decoded Kafka record.
type Record struct {
	Key       []byte
	Value     []byte
	Headers   []Header
	Timestamp time.Time // zero means "now" when producing
	Offset    int64     // set on fetch
}

// Header is one record header.
type Header struct {
	Key   string
	Value []byte
}

// TopicConfig holds a topic's settings. Zero values mean the default noted on
// each field. ParseTopicConfigs converts Kafka config names to it.
type TopicConfig struct {
	Partitions        int32 // number of partitions; default Config.DefaultPartitions
	ReplicationFactor int16 // replicas per partition; default min(3, brokers)

	RetentionMs     int64 // retention.ms; default 7 days; -1 = unlimited
	RetentionBytes  int64 // retention.bytes per partition; default -1 = unlimited
	SegmentBytes    int64 // segment.bytes; default 1 GiB
	SegmentMs       int64 // segment.ms; default 7 days
	MaxMessageBytes int32 // max.message.bytes (one batch); default 1 MiB + 12 bytes, as Kafka
	// CleanupPolicy is cleanup.policy: "delete" (default), "compact" or
	// "compact,delete". With compact, every replica keeps only the latest
	// record of each key in sealed segments (see docs/ENGINE.md).
	CleanupPolicy string
	// DeleteRetentionMs is delete.retention.ms: how long compaction keeps a
	// key's latest record when it is a tombstone (null value), counted from
	// its batch's max timestamp; default 1 day (DefaultDeleteRetentionMs); a
	// negative value means 0 (the config "0" parses to -1).
	DeleteRetentionMs int64
	// MessageTimestampType is message.timestamp.type: "CreateTime" (default)
	// or "LogAppendTime".
	MessageTimestampType string
	// Compression is the codec of sealed segment files: "zstd" (default), "s2",
	// "lz4" or "none". Client-compressed batches are stored as sent.
	Compression string
}

// ProduceResult is the outcome of a successful produce.
type ProduceResult struct {
	BaseOffset     int64 // offset of the first record written
	LogAppendTime  int64 // ms since epoch when the topic uses LogAppendTime, else -1
	LogStartOffset int64
}

// FetchOptions bound one Fetch.
type FetchOptions struct {
	MaxBytes int           // stop adding batches past this many bytes (at least one batch is returned)
	MinBytes int           // wait until this many bytes are available or MaxWait passes; 0 = do not wait
	MaxWait  time.Duration // long-poll limit when fewer than MinBytes are available
	// ReadCommitted returns batches only below the last stable offset, and
	// the aborted transactions among them (Kafka's read_committed).
	ReadCommitted bool
	// AllowFollower lets an in-sync follower replica on this broker serve
	// the fetch up to its own applied end (a consumer's Fetch v11+,
	// KIP-392); without it only the leader does.
	AllowFollower bool
	// ClientRack is the consumer's rack (Fetch v11+ RackID). On the leader,
	// when it differs from the leader's rack and an in-sync follower is in
	// it, the result names that follower in PreferredReadReplica instead of
	// carrying records.
	ClientRack string
}

// FetchResult is what a Fetch returns.
type FetchResult struct {
	// Batches holds whole Kafka v2 record batches, as stored, starting with
	// the batch that contains the requested offset.
	Batches        []byte
	HighWatermark  int64
	LogStartOffset int64
	// LastStableOffset is the first offset of the oldest ongoing
	// transaction, else the high watermark.
	LastStableOffset int64
	// AbortedTxns lists, for ReadCommitted fetches, the aborted
	// transactions with data among Batches, oldest abort first.
	AbortedTxns []AbortedTxn
	// PreferredReadReplica is the broker the consumer should fetch from
	// instead (see FetchOptions.ClientRack), 0 for none; Batches is then
	// empty.
	PreferredReadReplica uint64
}

// ListOffsetsResult answers ListOffsets.
type ListOffsetsResult struct {
	Offset      int64 // -1 when no record matches a timestamp query
	Timestamp   int64 // ms; -1 unless the query was by timestamp or MaxTimestamp
	LeaderEpoch int32
}

// Metadata is a point-in-time view of the cluster as recorded in __meta.
type Metadata struct {
	ClusterID    string
	ControllerID uint64 // broker leading __meta; 0 if none
	Brokers      []Broker
	Topics       []TopicInfo
}

// Broker is one member of the cluster.
type Broker struct {
	ID        uint64
	KafkaAddr string // advertised host:port, "" until the broker registers
	// Listeners maps each Kafka listener name to the broker's advertised
	// host:port on it (Config.KafkaListeners); empty for a broker that
	// registered only KafkaAddr.
	Listeners map[string]string
	Rack      string
}

// TopicInfo describes a topic.
type TopicInfo struct {
	Name       string
	ID         [16]byte // topic UUID
	Internal   bool
	Config     TopicConfig
	Partitions []PartitionInfo
}

// PartitionInfo describes one partition.
type PartitionInfo struct {
	Partition       int32
	Leader          uint64 // 0 if none known
	LeaderEpoch     int32
	Replicas        []uint64
	ISR             []uint64 // replicas in sync: on this broker, or on a broker its Raft transport reaches
	PreferredLeader uint64
}

// PartitionStats describes this broker's local replica of a partition.
type PartitionStats struct {
	Leader             uint64 // broker leading the partition, 0 if none known
	LeaderEpoch        int32
	IsLeader           bool
	HighWatermark      int64 // applied (= committed) log end on this replica
	LogStartOffset     int64
	LastIndex          uint64 // last Raft index stored in the segment files
	Segments           int
	SizeBytes          int64
	SnapshotsRecovered uint64 // streamed snapshots this replica caught up from
}
