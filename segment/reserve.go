package segment

// Preallocation of the active segment. Appending to a file makes the file
// system allocate blocks on every write, and on ext4 that costs several times
// the copy itself: measured here, extending writes of 1 MiB took about 2 ms of
// CPU per MB, writes into blocks allocated ahead about 0.15 ms. The active
// segment therefore reserves blocks ahead of its end with
// fallocate(FALLOC_FL_KEEP_SIZE), which leaves the file's size, and so every
// reader and Open's scan, exactly as without it. The reservation grows with
// what the segment has taken (at least minReserve, at most maxReserve ahead),
// so an idle partition holds little spare space, and it is released when the
// segment is sealed or the log closed.

const (
	minReserve = 1 << 20
	maxReserve = 16 << 20
)

// reserve makes sure blocks are allocated up to at least end, ahead by as
// much as the segment already holds (within [minReserve, maxReserve]) and
// never past limit plus one frame. A failure (no fallocate on this file
// system, a full disk) is not an error: the write that follows allocates
// blocks itself, or reports the full disk.
func (s *segment) reserve(end, limit int64) {
	if end <= s.reserved {
		return
	}
	ahead := min(max(end, minReserve), maxReserve)
	to := min(end+ahead, max(limit, end))
	if err := preallocate(s.f, s.reserved, to-s.reserved); err != nil {
		// Do not retry on every append; the next reservation tries again.
		s.reserved = end
		return
	}
	s.reserved = to
}

// unreserve gives back the blocks reserved past the data (a sealed segment
// keeps its size for good).
func (s *segment) unreserve() {
	if s.reserved > s.meta.Size {
		// Truncating to the current size frees the blocks past it.
		s.f.Truncate(s.meta.Size)
	}
	s.reserved = 0
}
