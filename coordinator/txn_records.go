package coordinator

// Records of __transaction_state, in Kafka's own format so that tools
// reading the topic understand them: key TxnMetadataKey v0 (transactional
// id), value TxnMetadataValue v0 (producer id and epoch, timeout, state,
// partitions, last update and start times). A nil value is a tombstone. The
// load marker is the group coordinator's (key version 0x7C00, empty value).

import (
	"encoding/binary"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

const recTxnKey = 0

// storedTxn is one decoded record of __transaction_state.
type storedTxn struct {
	marker bool
	id     string
	value  *kmsg.TxnMetadataValue // nil: tombstone
}

func decodeTxnRecord(key, value []byte) (storedTxn, error) {
	if len(key) < 2 {
		return storedTxn{}, fmt.Errorf("%w: key of %d bytes", errBadGroupRecord, len(key))
	}
	switch v := int16(binary.BigEndian.Uint16(key)); v {
	case recTxnKey:
		var k kmsg.TxnMetadataKey
		if err := k.ReadFrom(key); err != nil {
			return storedTxn{}, fmt.Errorf("%w: txn key: %v", errBadGroupRecord, err)
		}
		r := storedTxn{id: k.TransactionalID}
		if value != nil {
			var tv kmsg.TxnMetadataValue
			if err := tv.ReadFrom(value); err != nil {
				return r, fmt.Errorf("%w: txn value of %q: %v", errBadGroupRecord, k.TransactionalID, err)
			}
			r.value = &tv
		}
		return r, nil
	case recLoadMarker:
		return storedTxn{marker: true}, nil
	default:
		return storedTxn{}, fmt.Errorf("%w: key version %d", errBadGroupRecord, v)
	}
}

// record is the record of t's state with state s, epoch epoch and the given
// partitions (nil: none), as a change would leave it; the caller applies it
// to t once it is written.
func (t *txnMeta) record(s kmsg.TransactionState, epoch int16, parts map[topicPartition]struct{}, start, now time.Time) engine.Record {
	k := kmsg.TxnMetadataKey{Version: recTxnKey, TransactionalID: t.id}
	v := kmsg.TxnMetadataValue{Version: 0, ProducerID: t.producerID, ProducerEpoch: epoch,
		TimeoutMillis: t.timeoutMs, State: s, LastUpdateTimestamp: now.UnixMilli(), StartTimestamp: -1}
	if !start.IsZero() {
		v.StartTimestamp = start.UnixMilli()
	}
	v.Topics = topicsOf(parts)
	return engine.Record{Key: k.AppendTo(nil), Value: v.AppendTo(nil)}
}

// topicsOf groups partitions by topic, sorted.
func topicsOf(parts map[topicPartition]struct{}) []kmsg.TxnMetadataValueTopic {
	byTopic := map[string][]int32{}
	for tp := range parts {
		byTopic[tp.topic] = append(byTopic[tp.topic], tp.partition)
	}
	out := make([]kmsg.TxnMetadataValueTopic, 0, len(byTopic))
	for topic, ps := range byTopic {
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		out = append(out, kmsg.TxnMetadataValueTopic{Topic: topic, Partitions: ps})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	return out
}

// restore sets t from its stored value.
func (t *txnMeta) restore(v *kmsg.TxnMetadataValue) {
	t.producerID, t.epoch, t.timeoutMs, t.state = v.ProducerID, v.ProducerEpoch, v.TimeoutMillis, v.State
	t.prevProducerID, t.prevEpoch = -1, -1
	t.parts = map[topicPartition]struct{}{}
	for _, vt := range v.Topics {
		for _, p := range vt.Partitions {
			t.parts[topicPartition{vt.Topic, p}] = struct{}{}
		}
	}
	t.start = time.Time{}
	if v.StartTimestamp >= 0 {
		t.start = time.UnixMilli(v.StartTimestamp)
	}
	t.lastUpdate = time.UnixMilli(v.LastUpdateTimestamp)
}
