package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"path/filepath"
)

// logState is the small "meta" file of a partition directory. It persists
// what the segment files alone cannot say once segments are deleted: the log
// start offset, and the end offset and last Raft index at the time it was
// written (so that a log whose every record was deleted still reports an
// exact LastIndex). It is written atomically (tmp + rename) by TruncateFront
// and by Restore.
type logState struct {
	Start     int64
	End       int64
	LastIndex uint64
}

const (
	stateMagic = 0x4d4b4843 // "CHKM"
	stateSize  = 4 + 4 + 8 + 8 + 8 + 4
)

func (s logState) encode() []byte {
	b := make([]byte, 0, stateSize)
	le := binary.LittleEndian
	b = le.AppendUint32(b, stateMagic)
	b = le.AppendUint32(b, 1)
	b = le.AppendUint64(b, uint64(s.Start))
	b = le.AppendUint64(b, uint64(s.End))
	b = le.AppendUint64(b, s.LastIndex)
	return le.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeState(b []byte) (logState, error) {
	le := binary.LittleEndian
	if len(b) != stateSize || le.Uint32(b) != stateMagic || le.Uint32(b[4:]) != 1 {
		return logState{}, errors.New("bad size, magic or version")
	}
	if crc32.Checksum(b[:stateSize-4], castagnoli) != le.Uint32(b[stateSize-4:]) {
		return logState{}, errors.New("crc mismatch")
	}
	s := logState{Start: int64(le.Uint64(b[8:])), End: int64(le.Uint64(b[16:])), LastIndex: le.Uint64(b[24:])}
	if s.Start < 0 || s.End < s.Start {
		return logState{}, fmt.Errorf("offsets start %d end %d invalid", s.Start, s.End)
	}
	return s, nil
}

// readState reads dir's meta file; ok is false if there is none.
func readState(fsys FS, dir string) (s logState, ok bool, err error) {
	path := filepath.Join(dir, metaFileName)
	b, err := readFile(fsys, path)
	if errors.Is(err, fs.ErrNotExist) {
		return logState{}, false, nil
	}
	if err != nil {
		return logState{}, false, fmt.Errorf("read %s: %w", path, err)
	}
	s, err = decodeState(b)
	if err != nil {
		return logState{}, false, &CorruptError{Segment: path, Pos: 0, Reason: err.Error()}
	}
	return s, true, nil
}

func writeState(fsys FS, dir string, s logState) error {
	return writeFileAtomic(fsys, filepath.Join(dir, metaFileName), s.encode())
}
