package coordinator

// Records of __consumer_offsets, in Kafka's own format so that tools reading
// the topic understand them:
//
//   - offset commit: key OffsetCommitKey v1 (group, topic, partition), value
//     OffsetCommitValue v3 (offset, leader epoch, metadata, commit time);
//   - group metadata: key GroupMetadataKey v2 (group), value
//     GroupMetadataValue v3 (protocol type, generation, protocol, leader,
//     state time, members with subscription and assignment);
//   - KIP-848 consumer groups: key versions 3 to 8 (consumer_records.go);
//   - a nil value is a tombstone: the offset or group is deleted.
//
// chronik adds one record kind, the load marker (key version 0x7C00, value
// empty), which a new coordinator writes on becoming leader: once it is
// committed, every earlier record is applied and readable (load.go).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

const (
	recOffsetKeyV0 = 0
	recOffsetKeyV1 = 1
	recGroupKey    = 2
	recLoadMarker  = 0x7C00
)

var errBadGroupRecord = errors.New("bad __consumer_offsets record")

// storedRecord is one decoded record of __consumer_offsets.
type storedRecord struct {
	kind      int16 // recOffsetKeyV1 (also for v0 keys), recGroupKey, recLoadMarker
	group     string
	topic     string
	partition int32
	tombstone bool
	offset    *kmsg.OffsetCommitValue  // kind offset, not a tombstone
	meta      *kmsg.GroupMetadataValue // kind group, not a tombstone
	cg        cgKey                    // kind recCGMetadata..recCGCurrentAssign (consumer_records.go)
	key       []byte                   // the raw key and value of a consumer group record
	value     []byte
	at        int64 // offset of the record in the log
}

// offsetCommit is the committed offset of an offset record.
func (r *storedRecord) offsetCommit() offsetCommit {
	return offsetCommit{offset: r.offset.Offset, leaderEpoch: r.offset.LeaderEpoch, metadata: r.offset.Metadata,
		committed: time.UnixMilli(r.offset.CommitTimestamp), logOffset: r.at}
}

// decodeStoredRecord decodes one record's key and value. Unknown key
// versions are an error (the caller skips them with a log line).
func decodeStoredRecord(key, value []byte) (storedRecord, error) {
	if len(key) < 2 {
		return storedRecord{}, fmt.Errorf("%w: key of %d bytes", errBadGroupRecord, len(key))
	}
	var r storedRecord
	r.tombstone = value == nil
	switch v := int16(binary.BigEndian.Uint16(key)); v {
	case recOffsetKeyV0, recOffsetKeyV1:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(key); err != nil {
			return r, fmt.Errorf("%w: offset key: %v", errBadGroupRecord, err)
		}
		r.kind, r.group, r.topic, r.partition = recOffsetKeyV1, k.Group, k.Topic, k.Partition
		if !r.tombstone {
			var ov kmsg.OffsetCommitValue
			if err := ov.ReadFrom(value); err != nil {
				return r, fmt.Errorf("%w: offset value of group %q: %v", errBadGroupRecord, k.Group, err)
			}
			if ov.Version < 3 {
				ov.LeaderEpoch = -1
			}
			r.offset = &ov
		}
	case recGroupKey:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(key); err != nil {
			return r, fmt.Errorf("%w: group key: %v", errBadGroupRecord, err)
		}
		r.kind, r.group = recGroupKey, k.Group
		if !r.tombstone {
			var gv kmsg.GroupMetadataValue
			if err := gv.ReadFrom(value); err != nil {
				return r, fmt.Errorf("%w: group value of %q: %v", errBadGroupRecord, k.Group, err)
			}
			r.meta = &gv
		}
	case recCGMetadata, recCGPartitionMeta, recCGMemberMeta, recCGTargetMeta, recCGTargetMember, recCGCurrentAssign:
		k, err := decodeCGKey(key)
		if err != nil {
			return r, fmt.Errorf("%w: consumer group key v%d: %v", errBadGroupRecord, v, err)
		}
		r.kind, r.group, r.cg, r.key, r.value = v, k.group, k, key, value
		if value != nil {
			if err := (&loadedConsumer{}).check(k, value); err != nil {
				return r, fmt.Errorf("%w: consumer group value v%d of %q: %v", errBadGroupRecord, v, k.group, err)
			}
		}
	case recLoadMarker:
		r.kind = recLoadMarker
	case recShareConfig, recShareState:
		if _, _, err := decodeShareKey(key); err != nil {
			return r, err
		}
		r.kind, r.key, r.value = v, key, value
	default:
		return r, fmt.Errorf("%w: key version %d", errBadGroupRecord, v)
	}
	return r, nil
}

// offsetRecord is the record of one committed offset (nil c: tombstone).
func offsetRecord(group, topic string, partition int32, c *offsetCommit) engine.Record {
	k := kmsg.OffsetCommitKey{Version: recOffsetKeyV1, Group: group, Topic: topic, Partition: partition}
	rec := engine.Record{Key: k.AppendTo(nil)}
	if c != nil {
		v := kmsg.OffsetCommitValue{Version: 3, Offset: c.offset, LeaderEpoch: c.leaderEpoch,
			Metadata: c.metadata, CommitTimestamp: c.committed.UnixMilli()}
		rec.Value = v.AppendTo(nil)
	}
	return rec
}

// groupRecord is the record of a group's metadata (nil v: tombstone).
func groupRecord(group string, v *kmsg.GroupMetadataValue) engine.Record {
	k := kmsg.GroupMetadataKey{Version: recGroupKey, Group: group}
	rec := engine.Record{Key: k.AppendTo(nil)}
	if v != nil {
		v.Version = 3
		rec.Value = v.AppendTo(nil)
	}
	return rec
}

// loadMarkerRecord is written by a new coordinator before it replays the log.
func loadMarkerRecord() engine.Record {
	return engine.Record{Key: binary.BigEndian.AppendUint16(nil, recLoadMarker), Value: []byte{}}
}
