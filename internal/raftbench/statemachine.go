package raftbench

import (
	"encoding/binary"
	"io"
	"sync/atomic"

	sm "github.com/lni/dragonboat/v4/statemachine"
)

// applied is what a counter has applied; Lookup returns it.
type applied struct {
	Entries, Bytes uint64
}

// counter is the benchmark's state machine: it applies an entry by
// counting it and its bytes, and keeps nothing else. It is an on-disk state
// machine, like chronik's partition shards, whose "disk" is two counters:
// Open reports index 0, which holds because every run starts from empty
// directories.
//
// dragonboat calls Update, Sync, PrepareSnapshot and RecoverFromSnapshot
// from one goroutine at a time, and Lookup and SaveSnapshot concurrently
// with them; the counters are atomics for that reason.
type counter struct {
	entries, bytes atomic.Uint64
}

var _ sm.IOnDiskStateMachine = (*counter)(nil)

func newCounter(uint64, uint64) sm.IOnDiskStateMachine { return &counter{} }

// Open implements sm.IOnDiskStateMachine: nothing has been applied yet.
func (c *counter) Open(<-chan struct{}) (uint64, error) { return 0, nil }

// Update implements sm.IOnDiskStateMachine.
func (c *counter) Update(ents []sm.Entry) ([]sm.Entry, error) {
	var n uint64
	for i := range ents {
		n += uint64(len(ents[i].Cmd))
		ents[i].Result = sm.Result{Value: uint64(len(ents[i].Cmd))}
	}
	c.entries.Add(uint64(len(ents)))
	c.bytes.Add(n)
	return ents, nil
}

// Lookup implements sm.IOnDiskStateMachine; it returns an applied value.
func (c *counter) Lookup(any) (any, error) {
	return applied{Entries: c.entries.Load(), Bytes: c.bytes.Load()}, nil
}

// Sync implements sm.IOnDiskStateMachine: there is nothing to persist.
func (c *counter) Sync() error { return nil }

// PrepareSnapshot implements sm.IOnDiskStateMachine.
func (c *counter) PrepareSnapshot() (any, error) {
	return applied{Entries: c.entries.Load(), Bytes: c.bytes.Load()}, nil
}

// SaveSnapshot implements sm.IOnDiskStateMachine: the two counters.
func (c *counter) SaveSnapshot(ctx any, w io.Writer, _ <-chan struct{}) error {
	a := ctx.(applied)
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], a.Entries)
	binary.LittleEndian.PutUint64(b[8:], a.Bytes)
	_, err := w.Write(b[:])
	return err
}

// RecoverFromSnapshot implements sm.IOnDiskStateMachine.
func (c *counter) RecoverFromSnapshot(r io.Reader, _ <-chan struct{}) error {
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return err
	}
	c.entries.Store(binary.LittleEndian.Uint64(b[:8]))
	c.bytes.Store(binary.LittleEndian.Uint64(b[8:]))
	return nil
}

// Close implements sm.IOnDiskStateMachine.
func (c *counter) Close() error { return nil }
