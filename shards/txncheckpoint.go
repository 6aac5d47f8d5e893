package shards

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"

	"github.com/chronik-io/chronik/segment"
)

// The transaction checkpoint bounds the rebuild scan of Open: every
// txnCheckpointBytes of applied commands, Update writes the transaction
// state as of the log end X to txnCheckpointFile (atomically: a temporary
// file, fsync, rename, fsync of the directory). Open loads it when the log
// start <= X <= the log end and scans only from X (and from the producer
// tail); otherwise (no file, a damaged one, a log that lost its tail in a
// crash, or moved its start past X) it scans from the log start as before
// and writes a fresh checkpoint if that scan was long. Raft re-applies the
// same entries after a crash, so the log below the end of a surviving log
// is the log the checkpoint described. A snapshot install replaces the
// whole directory and so the file.
//
// Format (big-endian): "CKTX" [version u8 = 1] [offset i64]
// [n u32] n x [producer id i64][first offset i64][epoch i16]
// [n u32] n x [producer id i64][first offset i64][last offset i64]
// [n u32] n x [producer id i64][coordinator epoch i32]
// [crc32c u32 of all the bytes before].

const txnCheckpointFile = "txn.checkpoint"

// txnCheckpointBytes is how many command bytes Update applies between
// checkpoints, and how long a rebuild scan must have been for Open to write
// one. A variable for tests.
var txnCheckpointBytes int64 = producerScanBytes

var errTxnCheckpoint = errors.New("chronik: bad transaction checkpoint")

// encode returns the checkpoint of t as of offset.
func (t *txnTable) encode(offset int64) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	be := binary.BigEndian
	b := append([]byte("CKTX"), 1)
	b = be.AppendUint64(b, uint64(offset))
	b = be.AppendUint32(b, uint32(len(t.ongoing)))
	for _, pid := range slices.Sorted(maps.Keys(t.ongoing)) {
		o := t.ongoing[pid]
		b = be.AppendUint64(b, uint64(pid))
		b = be.AppendUint64(b, uint64(o.first))
		b = be.AppendUint16(b, uint16(o.epoch))
	}
	b = be.AppendUint32(b, uint32(len(t.aborted)))
	for _, a := range t.aborted {
		b = be.AppendUint64(b, uint64(a.ProducerID))
		b = be.AppendUint64(b, uint64(a.FirstOffset))
		b = be.AppendUint64(b, uint64(a.LastOffset))
	}
	b = be.AppendUint32(b, uint32(len(t.coord)))
	for _, pid := range slices.Sorted(maps.Keys(t.coord)) {
		b = be.AppendUint64(b, uint64(pid))
		b = be.AppendUint32(b, uint32(t.coord[pid]))
	}
	return be.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

// decodeTxnCheckpoint parses a checkpoint; errors wrap errTxnCheckpoint.
func decodeTxnCheckpoint(b []byte) (*txnTable, int64, error) {
	bad := func(what string) (*txnTable, int64, error) {
		return nil, 0, fmt.Errorf("%w: %s", errTxnCheckpoint, what)
	}
	if len(b) < 4+1+8+12+4 || string(b[:4]) != "CKTX" || b[4] != 1 {
		return bad("header")
	}
	be := binary.BigEndian
	body := b[:len(b)-4]
	if crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)) != be.Uint32(b[len(b)-4:]) {
		return bad("crc")
	}
	offset := int64(be.Uint64(body[5:]))
	r := body[13:]
	count := func(size int) (int, bool) {
		if len(r) < 4 {
			return 0, false
		}
		n := int(be.Uint32(r))
		r = r[4:]
		return n, n <= len(r)/size
	}
	t := newTxnTable()
	n, ok := count(18)
	if !ok {
		return bad("ongoing")
	}
	for range n {
		t.ongoing[int64(be.Uint64(r))] = ongoingTxn{first: int64(be.Uint64(r[8:])), epoch: int16(be.Uint16(r[16:]))}
		r = r[18:]
	}
	if n, ok = count(24); !ok {
		return bad("aborted")
	}
	t.aborted = make([]AbortedTxn, n)
	for i := range t.aborted {
		t.aborted[i] = AbortedTxn{ProducerID: int64(be.Uint64(r)), FirstOffset: int64(be.Uint64(r[8:])), LastOffset: int64(be.Uint64(r[16:]))}
		r = r[24:]
	}
	if n, ok = count(12); !ok {
		return bad("coordinator epochs")
	}
	for range n {
		t.coord[int64(be.Uint64(r))] = int32(be.Uint32(r[8:]))
		r = r[12:]
	}
	if len(r) != 0 {
		return bad("trailing bytes")
	}
	return t, offset, nil
}

// fsys is the file system of the partition's directory (fixed at
// construction: SetRoll changes only the roll limits).
func (p *PartitionSM) fsys() segment.FS {
	if p.fs != nil {
		return p.fs
	}
	return segment.OSFS{}
}

// writeTxnCheckpoint writes the transaction state as of offset. A failure
// only costs a longer scan at the next Open: it is logged, not returned.
func (p *PartitionSM) writeTxnCheckpoint(offset int64) {
	fsys := p.fsys()
	name := filepath.Join(p.dir, txnCheckpointFile)
	tmp := name + ".tmp" // segment.Open removes a leftover
	data := p.txns.encode(offset)
	err := func() error {
		f, err := fsys.Create(tmp)
		if err != nil {
			return err
		}
		if _, err := f.WriteAt(data, 0); err != nil {
			f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if err := fsys.Rename(tmp, name); err != nil {
			return err
		}
		return fsys.SyncDir(p.dir)
	}()
	if err != nil {
		fsys.Remove(tmp)
		p.log.Warn("write transaction checkpoint", "offset", offset, "err", err)
	}
	p.sinceTxnCheckpoint = 0
}

// loadTxnCheckpoint returns the checkpointed state and its offset if it
// describes l; ok is false otherwise (it is then ignored).
func (p *PartitionSM) loadTxnCheckpoint(l *segment.Log) (t *txnTable, offset int64, ok bool) {
	fsys := p.fsys()
	f, err := fsys.Open(filepath.Join(p.dir, txnCheckpointFile))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			p.log.Warn("read transaction checkpoint", "err", err)
		}
		return nil, 0, false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() > 64<<20 {
		p.log.Warn("read transaction checkpoint", "err", err)
		return nil, 0, false
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		p.log.Warn("read transaction checkpoint", "err", err)
		return nil, 0, false
	}
	t, offset, err = decodeTxnCheckpoint(b)
	if err != nil {
		p.log.Warn("transaction checkpoint unreadable; scanning the whole log", "err", err)
		return nil, 0, false
	}
	if offset < l.StartOffset() || offset > l.EndOffset() {
		p.log.Info("transaction checkpoint does not match the log; scanning the whole log",
			"offset", offset, "start", l.StartOffset(), "end", l.EndOffset())
		return nil, 0, false
	}
	t.truncateFront(l.StartOffset())
	return t, offset, true
}
