package bench

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"hash/maphash"
)

// A Verify record identifies itself in its key, so the checker can tell a
// lost record from a duplicated, misplaced or corrupted one without trusting
// anything the broker says:
//
//	offset size field
//	     0    4 magic "CKV1"
//	     4    8 run id (random per Verify call)
//	    12    4 producer index
//	    16    8 sequence number (per producer, from 0, across partitions)
//	    24    4 partition the producer sent the record to
//	    28    4 value length
//	    32    1 flags: 1 sent in a transaction, 2 in a transaction the
//	              producer meant to abort (see recordFlags)
//	    33    3 reserved, zero
//	    36    4 CRC-32C of bytes 0-35 and the value
//
// All integers are big-endian. The value is RecordSize bytes cut from a
// random pool; the checksum covers it, so any change to key or value is
// detected (bar a CRC collision, about 1 in 4 billion per corrupt record).
const (
	verifyKeyLen = 40
	verifyMagic  = "CKV1"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recordID names one record of a run: its producer and that producer's
// sequence number.
type recordID struct {
	producer uint32
	seq      uint64
}

// recordFlags mark how a record was sent, in its key. The checker trusts
// the producers' own account first; the flags let it, and anyone reading the
// topic with another tool, tell a deliberately aborted record by itself.
type recordFlags uint8

const (
	// flagTxn: sent in a transaction (VerifyConfig.Transactional).
	flagTxn recordFlags = 1 << 0
	// flagAbort: sent in a transaction the producer decided to abort
	// before sending it (VerifyConfig.AbortEvery): a read_committed reader
	// must never see it.
	flagAbort recordFlags = 1 << 1
)

// verifyKey builds the key of record id, sent to partition with flags,
// with value.
func verifyKey(run uint64, id recordID, partition int32, flags recordFlags, value []byte) []byte {
	k := make([]byte, verifyKeyLen)
	copy(k, verifyMagic)
	binary.BigEndian.PutUint64(k[4:], run)
	binary.BigEndian.PutUint32(k[12:], id.producer)
	binary.BigEndian.PutUint64(k[16:], id.seq)
	binary.BigEndian.PutUint32(k[24:], uint32(partition))
	binary.BigEndian.PutUint32(k[28:], uint32(len(value)))
	k[32] = byte(flags)
	sum := crc32.Update(crc32.Checksum(k[:36], castagnoli), castagnoli, value)
	binary.BigEndian.PutUint32(k[36:], sum)
	return k
}

// recordKind classifies a record read back.
type recordKind uint8

const (
	// kindForeign is a record of another run or another writer: not
	// checked.
	kindForeign recordKind = iota
	// kindOurs is an intact record of this run.
	kindOurs
	// kindCorrupt carries this run's id but fails its checksum.
	kindCorrupt
)

// parsedKey is what a record's key says about it.
type parsedKey struct {
	kind recordKind
	// id, partition and flags are meaningful for kindOurs; for
	// kindCorrupt they are only what the damaged key claims.
	id        recordID
	partition int32
	flags     recordFlags
}

// parseVerifyRecord classifies a record read back and returns what its key
// names.
func parseVerifyRecord(run uint64, key, value []byte) parsedKey {
	if len(key) < 12 || !bytes.Equal(key[:4], []byte(verifyMagic)) || binary.BigEndian.Uint64(key[4:]) != run {
		return parsedKey{kind: kindForeign}
	}
	if len(key) != verifyKeyLen {
		return parsedKey{kind: kindCorrupt}
	}
	// A corrupt record's identity is only what it claims to be; it is
	// returned for the report.
	id := recordID{producer: binary.BigEndian.Uint32(key[12:]), seq: binary.BigEndian.Uint64(key[16:])}
	pk := parsedKey{kind: kindOurs, id: id, partition: int32(binary.BigEndian.Uint32(key[24:])), flags: recordFlags(key[32])}
	sum := crc32.Update(crc32.Checksum(key[:36], castagnoli), castagnoli, value)
	if sum != binary.BigEndian.Uint32(key[36:]) || int(binary.BigEndian.Uint32(key[28:])) != len(value) {
		pk.kind = kindCorrupt
	}
	return pk
}

// fingerprinter hashes whole records (key and value), so two reads of one
// offset can be compared whatever the record is, ours or not.
type fingerprinter struct{ seed maphash.Seed }

func newFingerprinter() fingerprinter { return fingerprinter{seed: maphash.MakeSeed()} }

func (f fingerprinter) of(key, value []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(f.seed)
	var n [8]byte
	// The key's length first: key "ab" + value "c" differs from "a" + "bc".
	binary.BigEndian.PutUint64(n[:], uint64(len(key)))
	h.Write(n[:])
	h.Write(key)
	h.Write(value)
	return h.Sum64()
}
