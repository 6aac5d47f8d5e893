package bench

import (
	"bytes"
	"testing"
)

func TestVerifyRecordRoundTrip(t *testing.T) {
	const run = 0x0123456789abcdef
	value := []byte("some payload bytes")
	id := recordID{producer: 3, seq: 1 << 40}
	key := verifyKey(run, id, 7, 0, value)
	if len(key) != verifyKeyLen {
		t.Fatalf("key length %d, want %d", len(key), verifyKeyLen)
	}
	if pk := parseVerifyRecord(run, key, value); pk != (parsedKey{kind: kindOurs, id: id, partition: 7}) {
		t.Fatalf("parse = %+v, want ours %+v partition 7", pk, id)
	}
	txnKey := verifyKey(run, id, 7, flagTxn|flagAbort, value)
	if pk := parseVerifyRecord(run, txnKey, value); pk != (parsedKey{kind: kindOurs, id: id, partition: 7, flags: flagTxn | flagAbort}) {
		t.Fatalf("parse of an aborted transaction's record = %+v, want its flags", pk)
	}
	if kind := parseVerifyRecord(run+1, key, value).kind; kind != kindForeign {
		t.Errorf("another run's record parsed as %v, want foreign", kind)
	}
	if kind := parseVerifyRecord(run, []byte("user-key"), value).kind; kind != kindForeign {
		t.Errorf("a plain key parsed as %v, want foreign", kind)
	}
	if kind := parseVerifyRecord(run, nil, nil).kind; kind != kindForeign {
		t.Errorf("a nil key parsed as %v, want foreign", kind)
	}
	if kind := parseVerifyRecord(run, verifyKey(run, id, 7, 0, nil), []byte{}).kind; kind != kindOurs {
		t.Errorf("an empty value parsed as %v, want ours", kind)
	}

	// Every single-bit flip past the magic and run id, in key or value,
	// is corruption.
	flipped := func(b []byte, bit int) []byte {
		b = bytes.Clone(b)
		b[bit/8] ^= 1 << (bit % 8)
		return b
	}
	for bit := 12 * 8; bit < len(key)*8; bit++ {
		if kind := parseVerifyRecord(run, flipped(key, bit), value).kind; kind != kindCorrupt {
			t.Fatalf("key bit %d flipped: parsed as %v, want corrupt", bit, kind)
		}
	}
	for bit := range len(value) * 8 {
		if kind := parseVerifyRecord(run, key, flipped(value, bit)).kind; kind != kindCorrupt {
			t.Fatalf("value bit %d flipped: parsed as %v, want corrupt", bit, kind)
		}
	}
	if kind := parseVerifyRecord(run, key, append(bytes.Clone(value), 'x')).kind; kind != kindCorrupt {
		t.Errorf("a longer value parsed as %v, want corrupt", kind)
	}
	if kind := parseVerifyRecord(run, key[:39], value).kind; kind != kindCorrupt {
		t.Errorf("a truncated key parsed as %v, want corrupt", kind)
	}
}

func TestFingerprint(t *testing.T) {
	f := newFingerprinter()
	if f.of([]byte("ab"), []byte("c")) == f.of([]byte("a"), []byte("bc")) {
		t.Error("key/value boundary not part of the fingerprint")
	}
	if f.of([]byte("k"), []byte("v")) != f.of([]byte("k"), []byte("v")) {
		t.Error("fingerprint not deterministic")
	}
}

// FuzzParseVerifyRecord checks that any key and value parse without a panic,
// and that only a record whose checksum matches is taken as intact.
func FuzzParseVerifyRecord(f *testing.F) {
	const run = 42
	good := verifyKey(run, recordID{1, 2}, 3, flagTxn, []byte("v"))
	f.Add(good, []byte("v"))
	f.Add([]byte{}, []byte{})
	f.Add(good[:12], []byte("v"))
	f.Add(append(bytes.Clone(good), 0), []byte("v"))
	f.Add(good, []byte("w"))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		pk := parseVerifyRecord(run, key, value)
		if pk.kind == kindOurs && !bytes.Equal(verifyKey(run, pk.id, pk.partition, pk.flags, value), key) {
			t.Fatalf("key %x accepted as %+v, but that record's key is %x", key, pk, verifyKey(run, pk.id, pk.partition, pk.flags, value))
		}
	})
}
