package segment

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sort"
)

// indexEntry is one sparse index point: the frame at Pos starts at Offset,
// and every frame of the segment before Pos has max timestamp <= TsBefore
// (-1 when there is none). The .index file stores (Offset, Pos) and the
// .timeindex file (TsBefore, Pos).
type indexEntry struct {
	Offset   int64
	Pos      int64
	TsBefore int64
}

// segMeta summarises a segment. For a sealed segment it is stored in the
// header of its .index file so Open need not scan it.
type segMeta struct {
	Base        int64  // first offset (the file name)
	End         int64  // next offset after the segment
	FirstIndex  uint64 // first Raft index, 0 if no frame
	LastIndex   uint64 // last Raft index, 0 if no frame
	MaxTs       int64  // largest batch max timestamp, -1 if none
	MaxTsOff    int64  // base offset of the batch holding MaxTs, -1 if none
	FirstAppend int64  // append time (Unix ms) of the first frame, 0 if none
	Size        int64  // bytes of the .log file
	LastPos     int64  // position of the last frame, -1 if none
	LastCRC     uint32 // CRC of the last frame
	Rewritten   Codec  // codec the segment was rewritten to; noRewrite if not
}

const (
	noRewrite Codec = 0xFF

	indexMagic        = 0x494b4843 // "CHKI"
	timeIndexMagic    = 0x544b4843 // "CHKT"
	indexVersion      = 1
	indexHeaderSize   = 4 + 1 + 1 + 2 + 8*9 + 4 + 4
	timeIdxHeaderSize = 4 + 1 + 3 + 8 + 4 + 4
	indexEntrySize    = 16
)

func newSegMeta(base int64) segMeta {
	return segMeta{Base: base, End: base, MaxTs: -1, MaxTsOff: -1, LastPos: -1, Rewritten: noRewrite}
}

// add accounts for a frame written at pos.
func (m *segMeta) add(h *frameHeader, pos int64) {
	if m.LastPos < 0 {
		m.FirstIndex = h.FirstIndex
		m.FirstAppend = h.AppendTime
	}
	m.LastIndex = h.LastIndex
	if !h.empty() {
		m.End = h.LastOffset + 1
	}
	if h.MaxTs > m.MaxTs {
		m.MaxTs, m.MaxTsOff = h.MaxTs, h.MaxTsOff
	}
	m.LastPos, m.LastCRC = pos, h.CRC
	m.Size = pos + h.size()
}

// indexBuilder decides which frames get a sparse index entry.
type indexBuilder struct {
	interval int64
	lastPos  int64 // position of the last entry, -1 if none
	maxTs    int64 // max timestamp of the frames so far
}

func newIndexBuilder(interval int) indexBuilder {
	return indexBuilder{interval: int64(interval), lastPos: -1, maxTs: -1}
}

// add returns the entry for the frame at pos, if it gets one, and accounts
// for the frame's timestamps.
func (b *indexBuilder) add(h *frameHeader, pos int64) (indexEntry, bool) {
	e := indexEntry{Offset: h.BaseOffset, Pos: pos, TsBefore: b.maxTs}
	if h.MaxTs > b.maxTs {
		b.maxTs = h.MaxTs
	}
	if h.empty() || (b.lastPos >= 0 && pos-b.lastPos < b.interval) {
		return e, false
	}
	b.lastPos = pos
	return e, true
}

// lookupOffset returns the position to scan from for offset: the last entry
// at or below it, or 0.
func lookupOffset(idx []indexEntry, offset int64) int64 {
	i := sort.Search(len(idx), func(i int) bool { return idx[i].Offset > offset })
	if i == 0 {
		return 0
	}
	return idx[i-1].Pos
}

// lookupTime returns the position to scan from for the first frame with a
// timestamp >= ts: the last entry whose earlier frames are all below ts.
func lookupTime(idx []indexEntry, ts int64) int64 {
	i := sort.Search(len(idx), func(i int) bool { return idx[i].TsBefore >= ts })
	if i == 0 {
		return 0
	}
	return idx[i-1].Pos
}

// encodeIndexes serialises a sealed segment's meta and entries into the
// .index and .timeindex file contents, each ending with a CRC-32C.
func encodeIndexes(m *segMeta, idx []indexEntry) (offIdx, timeIdx []byte) {
	le := binary.LittleEndian
	offIdx = make([]byte, indexHeaderSize, indexHeaderSize+len(idx)*indexEntrySize+4)
	le.PutUint32(offIdx[0:], indexMagic)
	offIdx[4] = indexVersion
	offIdx[5] = byte(m.Rewritten)
	p := 8
	for _, v := range []uint64{uint64(m.Base), uint64(m.End), m.FirstIndex, m.LastIndex, uint64(m.MaxTs),
		uint64(m.MaxTsOff), uint64(m.FirstAppend), uint64(m.Size), uint64(m.LastPos)} {
		le.PutUint64(offIdx[p:], v)
		p += 8
	}
	le.PutUint32(offIdx[p:], m.LastCRC)
	le.PutUint32(offIdx[p+4:], uint32(len(idx)))
	timeIdx = make([]byte, timeIdxHeaderSize, timeIdxHeaderSize+len(idx)*indexEntrySize+4)
	le.PutUint32(timeIdx[0:], timeIndexMagic)
	timeIdx[4] = indexVersion
	le.PutUint64(timeIdx[8:], uint64(m.Size))
	le.PutUint32(timeIdx[16:], m.LastCRC)
	le.PutUint32(timeIdx[20:], uint32(len(idx)))
	for _, e := range idx {
		offIdx = le.AppendUint64(offIdx, uint64(e.Offset))
		offIdx = le.AppendUint64(offIdx, uint64(e.Pos))
		timeIdx = le.AppendUint64(timeIdx, uint64(e.TsBefore))
		timeIdx = le.AppendUint64(timeIdx, uint64(e.Pos))
	}
	offIdx = le.AppendUint32(offIdx, crc32.Checksum(offIdx, castagnoli))
	timeIdx = le.AppendUint32(timeIdx, crc32.Checksum(timeIdx, castagnoli))
	return offIdx, timeIdx
}

// decodeIndexes parses the two index files of a sealed segment. Any
// inconsistency is an error (the caller rebuilds from the log).
func decodeIndexes(offIdx, timeIdx []byte) (segMeta, []indexEntry, error) {
	le := binary.LittleEndian
	var m segMeta
	if len(offIdx) < indexHeaderSize+4 || len(timeIdx) < timeIdxHeaderSize+4 {
		return m, nil, fmt.Errorf("index files too short (%d, %d bytes)", len(offIdx), len(timeIdx))
	}
	for _, f := range [][]byte{offIdx, timeIdx} {
		n := len(f) - 4
		if crc32.Checksum(f[:n], castagnoli) != le.Uint32(f[n:]) {
			return m, nil, fmt.Errorf("index crc mismatch")
		}
	}
	if le.Uint32(offIdx) != indexMagic || offIdx[4] != indexVersion ||
		le.Uint32(timeIdx) != timeIndexMagic || timeIdx[4] != indexVersion {
		return m, nil, fmt.Errorf("bad index magic or version")
	}
	m.Rewritten = Codec(offIdx[5])
	v := func(i int) uint64 { return le.Uint64(offIdx[8+8*i:]) }
	m.Base, m.End, m.FirstIndex, m.LastIndex = int64(v(0)), int64(v(1)), v(2), v(3)
	m.MaxTs, m.MaxTsOff, m.FirstAppend, m.Size, m.LastPos = int64(v(4)), int64(v(5)), int64(v(6)), int64(v(7)), int64(v(8))
	m.LastCRC = le.Uint32(offIdx[8+8*9:])
	n := int(le.Uint32(offIdx[8+8*9+4:]))
	if len(offIdx) != indexHeaderSize+n*indexEntrySize+4 || len(timeIdx) != timeIdxHeaderSize+n*indexEntrySize+4 {
		return m, nil, fmt.Errorf("index entry count %d does not match file sizes", n)
	}
	if int64(le.Uint64(timeIdx[8:])) != m.Size || le.Uint32(timeIdx[16:]) != m.LastCRC || int(le.Uint32(timeIdx[20:])) != n {
		return m, nil, fmt.Errorf("offset and time index disagree")
	}
	idx := make([]indexEntry, n)
	for i := range idx {
		o := indexHeaderSize + i*indexEntrySize
		t := timeIdxHeaderSize + i*indexEntrySize
		idx[i] = indexEntry{Offset: int64(le.Uint64(offIdx[o:])), Pos: int64(le.Uint64(offIdx[o+8:])), TsBefore: int64(le.Uint64(timeIdx[t:]))}
		if int64(le.Uint64(timeIdx[t+8:])) != idx[i].Pos {
			return m, nil, fmt.Errorf("index entry %d positions disagree", i)
		}
		if i > 0 && (idx[i].Offset <= idx[i-1].Offset || idx[i].Pos <= idx[i-1].Pos || idx[i].TsBefore < idx[i-1].TsBefore) {
			return m, nil, fmt.Errorf("index entry %d out of order", i)
		}
		if idx[i].Pos >= m.Size || idx[i].Offset < m.Base || idx[i].Offset >= m.End {
			return m, nil, fmt.Errorf("index entry %d outside the segment", i)
		}
	}
	if m.End < m.Base || m.Size < 0 || m.LastPos >= m.Size || (m.Size > 0) != (m.LastPos >= 0) {
		return m, nil, fmt.Errorf("index summary inconsistent")
	}
	return m, idx, nil
}
