package segment

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestEpochsRoundTrip(t *testing.T) {
	for _, es := range [][]EpochEntry{nil, {{Epoch: 1, StartOffset: 0}}, {{1, 0}, {3, 10}, {7, 11}}} {
		got, err := DecodeEpochs(EncodeEpochs(es))
		if err != nil {
			t.Fatalf("%v: %v", es, err)
		}
		if len(got) != len(es) {
			t.Fatalf("got %v, want %v", got, es)
		}
		for i := range es {
			if got[i] != es[i] {
				t.Fatalf("got %v, want %v", got, es)
			}
		}
	}
}

func TestDecodeEpochsRejects(t *testing.T) {
	valid := EncodeEpochs([]EpochEntry{{1, 0}, {3, 10}})
	flip := bytes.Clone(valid)
	flip[14] ^= 1
	for name, b := range map[string][]byte{
		"empty":         nil,
		"truncated":     valid[:len(valid)-1],
		"garbage after": append(bytes.Clone(valid), 0),
		"bit flip":      flip,
		"epoch order":   EncodeEpochs([]EpochEntry{{3, 0}, {1, 10}}),
		"offset order":  EncodeEpochs([]EpochEntry{{1, 10}, {3, 10}}),
		"negative":      EncodeEpochs([]EpochEntry{{-1, 0}}),
		"other magic":   EncodeEpochs(nil)[4:],
	} {
		if _, err := DecodeEpochs(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err %v, want ErrCorrupt", name, err)
		}
	}
}

func TestLogEpochsFile(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, &Options{DisableBackgroundRewrite: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := l.ReadEpochs(); ok || err != nil {
		t.Fatalf("fresh log: ok %v err %v", ok, err)
	}
	want := []EpochEntry{{2, 0}, {5, 42}}
	if err := l.WriteEpochs(want); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if err := l.WriteEpochs(want); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	// A leftover tmp file from a crash is removed by Open, the file stays.
	if err := os.WriteFile(filepath.Join(dir, EpochsFile+tmpSuffix), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err = Open(dir, &Options{DisableBackgroundRewrite: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got, ok, err := l.ReadEpochs()
	if !ok || err != nil || len(got) != 2 || got[1] != want[1] {
		t.Fatalf("reopened: %v %v %v", got, ok, err)
	}
	if err := os.WriteFile(filepath.Join(dir, EpochsFile), []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := l.ReadEpochs(); ok || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged: ok %v err %v", ok, err)
	}
}

// FuzzDecodeEpochs: never panics; whatever decodes re-encodes to the input.
func FuzzDecodeEpochs(f *testing.F) {
	valid := EncodeEpochs([]EpochEntry{{1, 0}, {3, 10}, {7, 11}})
	f.Add([]byte{})
	f.Add(valid)
	f.Add(valid[:len(valid)-1])
	f.Add(append(bytes.Clone(valid), "garbage"...))
	f.Add(EncodeEpochs(nil)[:EpochsHeaderSize])
	f.Add([]byte{0x43, 0x48, 0x45, 0x50, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := DecodeEpochs(b)
		if err != nil {
			return
		}
		if !bytes.Equal(EncodeEpochs(es), b) {
			t.Fatalf("decoded %v does not re-encode to the input", es)
		}
	})
}
