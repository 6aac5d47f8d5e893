package segment

// Early writeback of the active segment. Appended frames sit in the page
// cache until the kernel's periodic writeback or the next Sync, so the
// kernel writes them out in bursts of many megabytes, and every fsync that
// meets such a burst on the same disk (the Raft log's, which every commit
// waits for) waits behind it: 100-300 ms stalls of acknowledged writes at a
// steady 10 MB/s. The active segment therefore asks the kernel to start
// writing its new data out every writebackBytes
// (sync_file_range(SYNC_FILE_RANGE_WRITE), which starts the writes and does
// not wait for them, as pebble's bytes_per_sync does for its own files).
// This changes when bytes reach the disk, never what is durable: that is
// still Sync's.

// writebackBytes is how much new data the active segment gathers before it
// starts writing it out.
const writebackBytes = 1 << 20

// startWriteback starts writing out the segment's data up to end once
// writebackBytes have gathered since the last start. A failure (another
// file system, an old kernel) is ignored: the data is written out later,
// as without it, Sync still makes it durable, and the next window tries
// again.
func (s *segment) startWriteback(end int64) {
	if end-s.writtenBack < writebackBytes {
		return
	}
	_ = writeback(s.f, s.writtenBack, end-s.writtenBack)
	s.writtenBack = end
}
