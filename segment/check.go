package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
)

// Check validates the partition log in dir without changing any file, so
// that a caller can decide before Open whether the log can be opened and
// trusted. It is cheap: it reads the directory listing, the meta file, each
// sealed segment's index files (a sealed segment whose index does not match
// is scanned, as Open would) and scans the active segment.
//
// It finds:
//   - a missing segment file: index files left without their .log, a gap
//     between one segment's end offset and the next one's base, or a first
//     segment that starts above the log start offset (ErrMissingSegment);
//   - a sealed segment that fails the scan Open must run on it, or
//     segments that do not continue each other (ErrCorrupt);
//   - damage inside the active segment: a frame that fails its checks and
//     is followed by valid frames (ErrCorrupt). A torn tail, where the bytes
//     simply end or only zeros follow the last good frame (a crash during a
//     write), is not damage: Open cuts it and nothing is reported.
//
// A frame flipped inside a sealed segment whose index matches is not found
// here (that would cost reading every byte); reads find it and report it
// through Options.OnCorrupt.
//
// A directory that does not exist, or holds no segment, passes. An
// interrupted Restore (which Open finishes) passes unchecked.
//
// Errors: a *CorruptError (errors.Is ErrCorrupt, and ErrMissingSegment when
// a file is missing) naming the file and the reason; I/O errors wrapped with
// the path.
func Check(dir string, opts *Options) error {
	o, err := opts.withDefaults()
	if err != nil {
		return err
	}
	fsys := o.FS
	if _, err := fsys.Stat(restoreOld(dir)); err == nil {
		return nil
	}
	if _, err := fsys.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	names, err := fsys.List(dir)
	if err != nil {
		return fmt.Errorf("check %s: %w", dir, err)
	}
	var bases []int64
	indexed := map[int64]bool{} // bases that have an index file
	for _, n := range names {
		if strings.HasSuffix(n, tmpSuffix) {
			continue
		}
		if b, ok := parseSegmentName(n); ok {
			bases = append(bases, b)
			continue
		}
		for _, suf := range []string{indexSuffix, timeIndexSuffix} {
			if stem, ok := strings.CutSuffix(n, suf); ok {
				if b, ok := parseSegmentName(stem + logSuffix); ok {
					indexed[b] = true
				}
			}
		}
	}
	slices.Sort(bases)
	logPath := func(base int64) string { return filepath.Join(dir, segmentName(base)+logSuffix) }
	for b := range indexed {
		if _, ok := slices.BinarySearch(bases, b); !ok {
			return &CorruptError{Segment: logPath(b), Missing: true,
				Reason: "the segment's index files exist but its .log file is gone"}
		}
	}
	if len(bases) == 0 {
		return nil
	}
	st, haveState, err := readState(fsys, dir)
	if err != nil {
		return fmt.Errorf("check %s: %w", dir, err)
	}
	if start := int64(0); bases[0] > start && (!haveState || st.Start < bases[0]) {
		if haveState {
			start = st.Start
		}
		return &CorruptError{Segment: logPath(bases[0]), Missing: true,
			Reason: fmt.Sprintf("the log starts at offset %d but its first segment at %d", start, bases[0])}
	}
	var prevEnd int64
	for i, b := range bases {
		var end int64
		if i < len(bases)-1 {
			end, err = checkSealed(fsys, dir, b, o.IndexIntervalBytes)
		} else {
			end, err = checkActive(fsys, logPath(b), b, o.IndexIntervalBytes)
		}
		if err != nil {
			return err
		}
		if i > 0 && prevEnd != b {
			reason := fmt.Sprintf("segment %s ends at offset %d but the next one starts at %d", segmentName(bases[i-1]), prevEnd, b)
			return &CorruptError{Segment: logPath(bases[i-1]), Missing: prevEnd < b, Reason: reason}
		}
		prevEnd = end
	}
	return nil
}

// checkSealed checks one sealed segment as loadSealed would load it and
// returns its end offset.
func checkSealed(fsys FS, dir string, base int64, interval int) (int64, error) {
	s, _, err := loadSealed(fsys, dir, base, interval)
	if err != nil {
		var ce *CorruptError
		if errors.As(err, &ce) {
			return 0, err
		}
		return 0, fmt.Errorf("check %s: %w", filepath.Join(dir, segmentName(base)+logSuffix), err)
	}
	end := s.meta.End
	s.release()
	return end, nil
}

// checkActive scans the active segment and returns its end offset (after
// the last good frame). A bad frame followed by a valid one is damage; one
// followed by nothing, or by zeros only, is a torn tail.
func checkActive(fsys FS, path string, base int64, interval int) (int64, error) {
	f, err := fsys.Open(path)
	if err != nil {
		return 0, fmt.Errorf("check %s: %w", path, err)
	}
	defer f.Close()
	size, err := fileSize(f)
	if err != nil {
		return 0, fmt.Errorf("check %s: %w", path, err)
	}
	r, err := scanFrames(f, base, size, interval)
	if err != nil {
		return 0, fmt.Errorf("check %s: %w", path, err)
	}
	if r.stopErr == nil || r.stopPos >= size {
		return r.meta.End, nil
	}
	next, zeros, err := nextValidFrame(f, r.stopPos, size)
	if err != nil {
		return 0, fmt.Errorf("check %s: %w", path, err)
	}
	if next >= 0 && !zeros {
		return 0, &CorruptError{Segment: path, Pos: r.stopPos,
			Reason: fmt.Sprintf("active segment: %s, and a valid frame follows at byte %d", r.stopErr.Error(), next)}
	}
	return r.meta.End, nil
}

// nextValidFrame looks for a frame that passes its checks after the bad one
// at pos (any frame: a hole can shift everything after it). It returns its
// position (-1 if none) and whether every byte from pos up to there (or to
// the end) is zero, which is what a crash leaves where the file system had
// allocated blocks that were never written.
func nextValidFrame(f File, pos, size int64) (next int64, zeros bool, err error) {
	var magic [4]byte
	binary.LittleEndian.PutUint32(magic[:], frameMagic)
	const chunk = 1 << 20
	buf := make([]byte, chunk+len(magic)-1)
	zeros = true
	for at := pos; at < size; at += chunk {
		n := min(int64(len(buf)), size-at)
		if _, err := f.ReadAt(buf[:n], at); err != nil && !errors.Is(err, io.EOF) {
			return -1, false, err
		}
		b := buf[:n]
		for i := 0; ; {
			j := bytes.Index(b[i:], magic[:])
			if j < 0 {
				break
			}
			p := at + int64(i+j)
			if p > pos {
				if _, _, ferr := readFrame(f, p, size); ferr == nil {
					if zeros && !allZero(b[:i+j]) {
						zeros = false
					}
					return p, zeros, nil
				}
			}
			i += j + 1
		}
		if zeros && !allZero(b[:min(n, chunk)]) {
			zeros = false
		}
	}
	return -1, zeros, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
