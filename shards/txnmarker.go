package shards

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/chronik-io/chronik/segment"
)

// Kafka transaction control batches, as the Kafka broker writes them
// (MemoryRecords.withEndTransactionMarker): attributes transactional (bit
// 4) and control (bit 5), no compression, CreateTime, base sequence -1, the
// producer's id and epoch, and one record whose key is the control record
// key (version int16 0, type int16: 0 abort, 1 commit; ControlRecordType)
// and whose value is the end transaction marker (version int16 0,
// coordinator epoch int32; EndTransactionMarker). franz-go's kmsg.
// ControlRecordKey and kmsg.EndTxnMarker have the same layout.

const (
	// AttrTransactional is batch attribute bit 4: the batch belongs to a
	// transaction.
	AttrTransactional int16 = 0x10
	// AttrControl is batch attribute bit 5: a control batch.
	AttrControl int16 = 0x20

	// ControlAbort and ControlCommit are the control record types of
	// transaction markers.
	ControlAbort  int16 = 0
	ControlCommit int16 = 1
)

// ErrNotTxnMarker: a batch that is not a transaction control batch, or whose
// control record does not parse.
var ErrNotTxnMarker = errors.New("chronik: not a transaction marker")

// TxnMarker is a decoded transaction control batch.
type TxnMarker struct {
	ProducerID       int64
	ProducerEpoch    int16
	Commit           bool
	CoordinatorEpoch int32
}

// IsTransactional reports attribute bit 4 of a batch header.
func IsTransactional(h *segment.BatchHeader) bool { return h.Attributes&AttrTransactional != 0 }

// AppendTxnMarker appends to dst a control batch for m at base offset
// offset, written under leaderEpoch, with timestamp ts (Unix ms).
func AppendTxnMarker(dst []byte, m TxnMarker, offset int64, leaderEpoch int32, ts int64) []byte {
	typ := ControlAbort
	if m.Commit {
		typ = ControlCommit
	}
	var key, val [6]byte
	binary.BigEndian.PutUint16(key[0:], 0) // version
	binary.BigEndian.PutUint16(key[2:], uint16(typ))
	binary.BigEndian.PutUint16(val[0:], 0) // version
	binary.BigEndian.PutUint32(val[2:], uint32(m.CoordinatorEpoch))
	body := make([]byte, 0, 24)
	body = append(body, 0)              // record attributes
	body = binary.AppendVarint(body, 0) // timestamp delta
	body = binary.AppendVarint(body, 0) // offset delta
	body = binary.AppendVarint(body, 4) // key length
	body = append(body, key[:4]...)     // key
	body = binary.AppendVarint(body, 6) // value length
	body = append(body, val[:]...)      // value
	body = binary.AppendVarint(body, 0) // headers
	rec := binary.AppendVarint(make([]byte, 0, len(body)+2), int64(len(body)))
	rec = append(rec, body...)
	return segment.AppendBatch(dst, segment.BatchHeader{
		BaseOffset: offset, PartitionLeaderEpoch: leaderEpoch,
		Attributes:    AttrTransactional | AttrControl,
		BaseTimestamp: ts, MaxTimestamp: ts,
		ProducerID: m.ProducerID, ProducerEpoch: m.ProducerEpoch, BaseSequence: -1,
		RecordCount: 1,
	}, rec)
}

// ParseTxnMarker decodes the control batch at the start of b (whose header h
// was parsed from it): the first record's control key and, for a commit or
// abort, its end transaction marker value. Key and value versions above 0
// are read as version 0, as Kafka does. Errors wrap ErrNotTxnMarker: not a
// control batch, compressed, another control type (Kafka's KRaft records),
// or a malformed record. It never reads past h.Size() bytes of b.
func ParseTxnMarker(h *segment.BatchHeader, b []byte) (TxnMarker, error) {
	m := TxnMarker{ProducerID: h.ProducerID, ProducerEpoch: h.ProducerEpoch}
	if !h.IsControl() {
		return m, fmt.Errorf("%w: not a control batch", ErrNotTxnMarker)
	}
	if h.Compression() != segment.CompressionNone || h.RecordCount < 1 {
		return m, fmt.Errorf("%w: compression %d, %d records", ErrNotTxnMarker, h.Compression(), h.RecordCount)
	}
	if h.Size() > len(b) || h.Size() < segment.BatchHeaderSize {
		return m, fmt.Errorf("%w: batch of %d bytes in %d", ErrNotTxnMarker, h.Size(), len(b))
	}
	r := b[segment.BatchHeaderSize:h.Size()]
	bad := func(what string) (TxnMarker, error) {
		return m, fmt.Errorf("%w: control record: %s", ErrNotTxnMarker, what)
	}
	n, k := binary.Varint(r)
	if k <= 0 || n < 0 || n > int64(len(r)-k) {
		return bad("length")
	}
	r = r[k : k+int(n)]
	if len(r) < 1 {
		return bad("attributes")
	}
	r = r[1:]
	for range 2 { // timestamp delta, offset delta
		if _, k = binary.Varint(r); k <= 0 {
			return bad("deltas")
		}
		r = r[k:]
	}
	kl, k := binary.Varint(r)
	if k <= 0 || kl < 4 || kl > int64(len(r)-k) {
		return bad("key")
	}
	key := r[k : k+int(kl)]
	r = r[k+int(kl):]
	if v := int16(binary.BigEndian.Uint16(key)); v < 0 {
		return bad(fmt.Sprintf("key version %d", v))
	}
	switch int16(binary.BigEndian.Uint16(key[2:])) {
	case ControlAbort:
	case ControlCommit:
		m.Commit = true
	default:
		return bad(fmt.Sprintf("type %d", int16(binary.BigEndian.Uint16(key[2:]))))
	}
	vl, k := binary.Varint(r)
	if k <= 0 || vl < 6 || vl > int64(len(r)-k) {
		return bad("value")
	}
	val := r[k : k+int(vl)]
	if v := int16(binary.BigEndian.Uint16(val)); v < 0 {
		return bad(fmt.Sprintf("marker version %d", v))
	}
	m.CoordinatorEpoch = int32(binary.BigEndian.Uint32(val[2:]))
	return m, nil
}
