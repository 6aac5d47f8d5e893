// Package segment owns one partition's on-disk log: a directory of segment
// files holding Kafka v2 record batches in compressed, checksummed frames,
// with sparse offset and time indexes. It knows nothing of Raft or Kafka
// requests and imports only the standard library and codecs
// (klauspost/compress for zstd and s2, pierrec/lz4/v4 for lz4).
//
// # Usage
//
// The partition state machine (package shards) owns one Log per partition:
//
//	l, err := segment.Open(dir, &segment.Options{SegmentBytes: 1 << 30})
//	if err != nil { ... }            // a *CorruptError names the damaged file
//	last := l.LastIndex()            // IOnDiskStateMachine.Open returns this
//
//	// Update: assign offsets from EndOffset, then one frame per entry batch.
//	next := l.EndOffset()
//	for _, b := range batches {      // header fields only, no record decoding
//		segment.SetBaseOffset(b, next)
//		segment.SetPartitionLeaderEpoch(b, term)
//		h, _ := segment.ParseBatchHeader(b)
//		next += int64(h.LastOffsetDelta) + 1
//	}
//	err = l.Append(concatenated, firstIndex, lastIndex) // LastIndex() < firstIndex <= lastIndex
//	err = l.Append(nil, i, i)        // an entry that wrote nothing still counts
//	err = l.Sync()                   // dragonboat's Sync: the durability point
//
//	// Fetch and ListOffsets, from any goroutine:
//	b, err := l.Read(offset, maxBytes)            // whole batches, >= 1
//	bufs, err := l.ReadV(offset, maxBytes)        // same, no copy (net.Buffers)
//	off, ts, ok, err := l.OffsetForTimestamp(ts)  // earliest record >= ts
//	ts, off := l.MaxTimestamp()                   // ListOffsets MAX_TIMESTAMP
//
//	// Retention / DeleteRecords (a replicated command):
//	err = l.TruncateFront(newStart)
//
//	// Snapshots (PrepareSnapshot / SaveSnapshot / RecoverFromSnapshot):
//	cp, _ := l.Checkpoint()          // cheap, pins files
//	cp.WriteTo(w); cp.Close()
//	segment.Restore(dir, r, opts)    // on the receiver, Log closed; then Open
//
// # Guarantees
//
//  1. LastIndex is exact. Every frame records the Raft index range
//     [first, last] of the entries it holds. Open scans the active segment,
//     verifies each frame's CRC-32C and that frames continue each other, and
//     cuts the file after the last good frame; LastIndex is that frame's last
//     index (or, for a log whose records were all deleted, the index recorded
//     by TruncateFront). Entries after it are re-applied by Raft.
//  2. No holes. Frames are appended in order to one file; a segment is
//     fsynced before the next one is created, so a crash keeps a prefix of
//     the frames. Append is durable only after Sync (the Raft log is the
//     durability point); TruncateFront syncs before it records LastIndex.
//  3. Corruption is never served. A frame that fails its CRC or does not
//     decode in a sealed segment is returned as a *CorruptError (ErrCorrupt)
//     naming the file and byte position: by Read and OffsetForTimestamp when
//     they reach it, and by Open when an index must be rebuilt from a damaged
//     log. It is never skipped. Options.OnCorrupt hears of each damaged
//     frame once (for a metric); the background rewrite logs what it
//     finds, everything else is returned, not logged. Open cannot tell
//     damage in the active segment from a torn write, so the tail from the
//     damaged frame on is cut (and logged at warning level with the
//     position and reason). Check, which changes nothing, can: a bad frame
//     that valid frames follow (after non-zero bytes) is damage. Check
//     also finds missing segment files (ErrMissingSegment), so a caller
//     can refuse a directory before Open.
//  4. Bad input leaves the log unchanged: an Append whose batches do not
//     continue EndOffset or whose Raft range does not follow LastIndex
//     (ErrOutOfOrder), a batch that is not magic 2 or whose lengths do not fit
//     (ErrInvalidBatch), a payload over MaxFrameBytes (ErrFrameTooLarge).
//     Batch CRCs are not verified on Append (Produce validates before
//     proposing); the frame CRC protects what is stored.
//  5. A failed write (full disk) returns the error and cuts the partial frame
//     off again; if even that fails, the Log refuses further Appends and the
//     next Open cuts the partial frame as a torn tail.
//
// # Threading
//
// One writer goroutine calls Append, TruncateFront, Sync and Close (they are
// serialised by a mutex too). Any number of goroutines call Read,
// OffsetForTimestamp, Checkpoint and the accessors concurrently with it: they
// take a read lock only to pin the segments they need and copy their
// published sizes and index slices, then read the files without any lock.
// Segment files are reference counted, so a reader or a Checkpoint keeps a
// file that retention deleted or the rewrite replaced open until it is done.
// One background goroutine per Log rewrites sealed segments; it is started by
// Open and stopped by Close, and never holds a lock that Append or Read wait
// on for longer than a pointer swap (it serialises only with TruncateFront,
// around its renames).
//
// # Files
//
// A partition directory holds:
//
//	00000000000000000000.log        segments, named by base offset (20 digits)
//	00000000000000000000.index      sealed segments only: summary + (offset, position)
//	00000000000000000000.timeindex  sealed segments only: (max timestamp before, position)
//	meta                            log start offset, end offset, LastIndex (TruncateFront, Restore)
//	leader-epoch-checkpoint         (epoch, start offset) list kept by the owner (epochs.go)
//	*.tmp                           in-flight atomic writes; deleted by Open
//
// A .log file is a sequence of frames, each an 80-byte little-endian header
// and a payload of one or more whole Kafka v2 record batches, compressed as
// a unit:
//
//	0  magic "CHKF"  4 version 1  5 codec  6 flags (bit 0: client-compressed)
//	8  first Raft index   16 last Raft index
//	24 base offset        32 last offset (base-1 for a frame with no batch)
//	40 max timestamp      48 base offset of the batch holding it
//	56 append time (Unix ms, for segment.ms)
//	64 record count  68 stored length  72 original length
//	76 CRC-32C (Castagnoli) of header bytes 0-75 and the stored payload
//
// The active segment has no index files: its sparse index lives in memory
// and is rebuilt by the recovery scan. When a segment is sealed (rolled by
// SegmentBytes or SegmentAge) its index files are written (tmp + rename),
// each with a CRC, and the .index header summarises the segment (offsets,
// Raft indexes, max timestamp, size, and the position and CRC of its last
// frame). Open loads a sealed segment from its index files only if that
// summary matches the .log file; otherwise (missing, damaged, or left from
// before a rewrite) it rebuilds them with a verifying scan. An index entry is
// added for a frame when IndexIntervalBytes have passed since the last one;
// the time index stores, per entry, the largest timestamp of all frames
// before it, so a timestamp lookup starts at the last entry below the target.
//
// # Codecs and the choices made
//
//   - Active segment: CodecNone by default. The append path must take at
//     least 400 MB/s of input on one core, and on this machine only CodecNone
//     does (see Measurements): s2 manages about 190-240 MB/s on JSON-like
//     text on this loaded machine (~570 MB/s idle), lz4 and zstd less. Tail reads of uncompressed
//     frames cost no decompression either. ActiveCodec selects another codec.
//   - Sealed segments: rewritten in the background to SealedCodec (zstd by
//     default, level SpeedFastest, which stores 0.31 of JSON-like text against
//     0.30 for SpeedDefault at 2 to 3 times the speed: BenchmarkZstdLevels,
//     medians 61 against 32 MB/s under load, 107 against 38 in a quieter run). The rewrite merges
//     consecutive frames into frames of up to 256 KiB of payload, so the
//     ratio does not depend on how small the appends were; the Raft index
//     range of a merged frame is the union of its parts. It writes
//     "<base>.log.rewrite.tmp", fsyncs it, renames it over the segment and
//     rewrites the index files; a crash at any point leaves either the old
//     file or the new one, whose index Open rebuilds if needed. A segment
//     whose rewrite is not done yet (backlog, or a restart) is simply read in
//     its old codec; Open queues it again.
//   - Log.RewriteSealed runs the same rewrite through a caller's FrameFilter
//     over each frame's batches (the engine's log compaction): offsets, Raft
//     index ranges and segment bounds stay, record counts and max timestamps
//     are recomputed, and a segment the filter leaves unchanged is not
//     rewritten.
//   - A batch the client already compressed (attribute bits 0-2) is not
//     compressed again: a frame whose bytes are at least half such batches is
//     stored raw and flagged, and the rewrite copies it unchanged. A frame
//     that a codec does not make smaller is stored raw too.
//
// # Reads and the cache
//
// Read pins the segment holding the offset (and up to three after it), finds
// the frame through the sparse index, and returns whole batches from the one
// that contains the offset, up to maxBytes but at least one. A bounded LRU
// cache (CacheBytes, or a Cache that several logs share) holds decoded
// frames: every appended frame goes in, so consumers at the tail never touch
// the file or a decompressor, and frames read from disk go in too; a log
// closed gives its frames up. Cached data is immutable; a Read that stays in
// one frame returns a sub-slice of it (no copy), a Read across frames a fresh
// concatenation, and ReadV returns the per-frame slices without copying.
//
// OffsetForTimestamp (ListOffsets) walks the segments oldest first, skipping
// a segment by its max timestamp, then frames through the time index, then
// batches by their max timestamp; inside the first batch that qualifies it
// decodes the records' timestamp deltas to return the exact record at or
// after the log start. A batch the client compressed is decompressed for
// this (DecompressRecords: gzip, snappy raw or xerial-framed, lz4 frame,
// zstd; bounded at MaxDecompressedRecords, 256 MiB) on this read path only. With LogAppendTime every record carries the
// batch's max timestamp. MaxTimestamp names the exact record the same way
// (KIP-734). A batch whose records do not decode yields its first offset.
//
// # Record batches
//
// batch.go is chronik's one codec of the Kafka v2 record batch header, used
// by every layer above: ParseBatchHeader (checks magic 2 and that the
// lengths fit; Length is the wire field, Size the whole batch), EachBatch
// over concatenated batches, VerifyCRC, AppendBatch (the encoder), and the
// setters the state machine applies (SetBaseOffset,
// SetPartitionLeaderEpoch, SetLogAppendTime). clientcodec.go is the one
// decompressor of clients' batch codecs, DecompressRecords, bounded by a
// limit every caller passes, so that a compression bomb is refused after
// about twice the limit instead of expanding in memory.
//
// # Snapshots
//
// Checkpoint pins the segment list, the active segment's length, the offsets
// and LastIndex under a read lock: no I/O. WriteTo streams a self-describing
// image (header with start, end, LastIndex; then each segment's bytes with a
// CRC-32C). Restore writes it into "<dir>.restore.tmp", verifies every frame
// while rebuilding the sealed segments' index files, writes meta, fsyncs, then
// swaps the directories with renames; Open finishes a swap a crash
// interrupted.
//
// # Measurements
//
// go test -run '^$' -bench . -benchmem -count 3 ./segment/ (appends and
// reads -benchtime 2000x, sealing 3x), medians of the 3 runs, on the 2-core
// machine of this project while the other packages' builds and tests ran
// (load average 4 to 6 on 2 cores: zstd reached about half the ~150 MB/s an
// idle core gives, so absolute figures are low and noisy; the order between
// codecs held in every run). Appends of 64 KiB (one batch of 64 records of 1
// KiB), MB/s of input, one writer, real files:
//
//	append, active codec   random   JSON-like   stored/input of JSON-like
//	none (the default)     797      517         1.00
//	s2                     464      190         0.46
//	lz4                    422      162         0.45
//	zstd                   315       71         0.32
//
// Only none keeps the append path above 400 MB/s of input on text, so it is
// the default active codec, and compression is left to the rewrite.
//
// Sealing (the background rewrite of an 8 MiB segment to zstd SpeedFastest,
// merging frames to 256 KiB): JSON-like text is stored at 0.31 of its input,
// whether it was appended in 64 KiB or in 4 KiB frames (target <= 0.4);
// random bytes stay at 1.00. The rewrite runs at 73-93 MB/s of JSON-like
// input and 135-250 MB/s of random input on one (shared) core.
//
// Reads of 1 MiB (whole batches: 0.98 MiB) from the cached tail: 1.9 GB/s
// (random) and 2.8 GB/s (JSON-like) for uncompressed frames, 2.2-4.2 GB/s
// for the other codecs; the cost is the concatenation of the frames'
// batches, which ReadV skips (over 100 GB/s: it returns slices). Reads that
// miss the cache (file read, CRC, decompression) run at 240 MB/s (zstd,
// JSON-like) to 790 MB/s (none, random).
//
// # Limits and known gaps
//
//   - Sealed segments' sparse indexes are held in memory: 24 bytes per entry,
//     at most one entry per frame and per IndexIntervalBytes. After the
//     rewrite (frames of 256 KiB of payload) that is about 0.03% of the stored
//     size for JSON-like text; a segment of small frames that is not
//     rewritten (SealedCodec equal to ActiveCodec) can reach 0.6% at the
//     default interval of 4096. The files are not memory-mapped.
//   - The background rewrite runs on one goroutine; if ingest is sustained
//     above its throughput, sealed segments wait in the active codec (correct,
//     only larger on disk).
//   - Segment age (SegmentAge) is measured from the wall-clock time of the
//     segment's first append, not from record timestamps.
package segment
