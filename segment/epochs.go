package segment

// The leader-epoch checkpoint: a small file beside the segments that lists,
// for each leader epoch stamped into the log's batches, the offset where its
// first batch begins (Kafka's leader-epoch-checkpoint). The segment package
// only stores and validates the list; the partition state machine (package
// shards) decides what goes into it. Restore does not carry the file: a
// restored directory has none until its owner writes one.
//
// Layout (little-endian): magic "CHEP" u32, version u32, count u32, then
// count entries of (epoch i32, start offset i64), then a CRC-32C u32 of all
// the preceding bytes. The same bytes are used inside partition snapshots.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"path/filepath"
)

// EpochsFile is the name of the leader-epoch checkpoint in a log directory.
const EpochsFile = "leader-epoch-checkpoint"

const (
	epochsMagic    = 0x50454843 // "CHEP"
	epochsVersion  = 1
	epochsHdrSize  = 4 + 4 + 4
	epochEntrySize = 4 + 8
	// MaxEpochEntries bounds a decoded list; a partition has one entry per
	// leader epoch that wrote to it, far fewer in practice.
	MaxEpochEntries = 1 << 20
)

// EpochEntry is one leader epoch and the offset of the first batch stamped
// with it.
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// EpochsHeaderSize is the number of leading bytes of an encoded list that
// EpochsBodySize needs.
const EpochsHeaderSize = epochsHdrSize

// IsEpochs reports whether b starts with the magic of an encoded epoch list.
func IsEpochs(b []byte) bool {
	return len(b) >= 4 && binary.LittleEndian.Uint32(b) == epochsMagic
}

// EpochsBodySize returns how many bytes follow the EpochsHeaderSize bytes of
// an encoded list (entries and CRC), for a reader of a stream.
func EpochsBodySize(hdr []byte) (int, error) {
	if len(hdr) < epochsHdrSize || !IsEpochs(hdr) {
		return 0, fmt.Errorf("leader epochs: bad header: %w", ErrCorrupt)
	}
	n := binary.LittleEndian.Uint32(hdr[8:])
	if n > MaxEpochEntries {
		return 0, fmt.Errorf("leader epochs: %d entries: %w", n, ErrCorrupt)
	}
	return int(n)*epochEntrySize + 4, nil
}

// EncodeEpochs serialises es (see the layout above).
func EncodeEpochs(es []EpochEntry) []byte {
	le := binary.LittleEndian
	b := make([]byte, 0, epochsHdrSize+len(es)*epochEntrySize+4)
	b = le.AppendUint32(b, epochsMagic)
	b = le.AppendUint32(b, epochsVersion)
	b = le.AppendUint32(b, uint32(len(es)))
	for _, e := range es {
		b = le.AppendUint32(b, uint32(e.Epoch))
		b = le.AppendUint64(b, uint64(e.StartOffset))
	}
	return le.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// DecodeEpochs parses what EncodeEpochs wrote. The list must be exactly b,
// pass its CRC, and have epochs and start offsets that are non-negative and
// strictly increasing; anything else is ErrCorrupt.
func DecodeEpochs(b []byte) ([]EpochEntry, error) {
	le := binary.LittleEndian
	body, err := EpochsBodySize(b)
	if err != nil {
		return nil, err
	}
	if le.Uint32(b[4:]) != epochsVersion {
		return nil, fmt.Errorf("leader epochs: version %d: %w", le.Uint32(b[4:]), ErrCorrupt)
	}
	if len(b) != epochsHdrSize+body {
		return nil, fmt.Errorf("leader epochs: %d bytes for %d entries: %w", len(b), (body-4)/epochEntrySize, ErrCorrupt)
	}
	n := len(b) - 4
	if crc32.Checksum(b[:n], castagnoli) != le.Uint32(b[n:]) {
		return nil, fmt.Errorf("leader epochs: crc mismatch: %w", ErrCorrupt)
	}
	es := make([]EpochEntry, 0, (body-4)/epochEntrySize)
	for p := epochsHdrSize; p < n; p += epochEntrySize {
		e := EpochEntry{Epoch: int32(le.Uint32(b[p:])), StartOffset: int64(le.Uint64(b[p+4:]))}
		if e.Epoch < 0 || e.StartOffset < 0 {
			return nil, fmt.Errorf("leader epochs: negative entry %+v: %w", e, ErrCorrupt)
		}
		if k := len(es); k > 0 && (e.Epoch <= es[k-1].Epoch || e.StartOffset <= es[k-1].StartOffset) {
			return nil, fmt.Errorf("leader epochs: entry %+v does not follow %+v: %w", e, es[k-1], ErrCorrupt)
		}
		es = append(es, e)
	}
	return es, nil
}

// WriteEpochs replaces the log's leader-epoch checkpoint with es, atomically
// (tmp file, fsync, rename, directory fsync). It is independent of Append:
// the caller orders the two.
//
// Errors: ErrClosed; I/O errors wrapped with the path.
func (l *Log) WriteEpochs(es []EpochEntry) error {
	l.mu.RLock()
	closed := l.closed
	l.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	name := filepath.Join(l.dir, EpochsFile)
	if err := writeFileAtomic(l.fs, name, EncodeEpochs(es)); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// ReadEpochs returns the log's leader-epoch checkpoint; ok is false when
// there is none.
//
// Errors: ErrCorrupt for a damaged file; I/O errors wrapped with the path.
func (l *Log) ReadEpochs() (es []EpochEntry, ok bool, err error) {
	name := filepath.Join(l.dir, EpochsFile)
	b, err := readFile(l.fs, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", name, err)
	}
	if es, err = DecodeEpochs(b); err != nil {
		return nil, false, fmt.Errorf("%s: %w", name, err)
	}
	return es, true, nil
}
