package segment

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Defaults of Options; see each field.
const (
	DefaultSegmentBytes       = 1 << 30
	DefaultSegmentAge         = 7 * 24 * time.Hour
	DefaultActiveCodec        = CodecNone
	DefaultSealedCodec        = CodecZstd
	DefaultMaxFrameBytes      = 64 << 20
	DefaultIndexIntervalBytes = 4096
	DefaultCacheBytes         = 8 << 20

	// maxSegmentBytes bounds SegmentBytes so that positions and sizes fit
	// comfortably in the index (int64 on disk, but one segment file stays a
	// manageable unit for snapshots and rewrites).
	maxSegmentBytes = 16 << 30
	// hardMaxFrameBytes bounds MaxFrameBytes and any length read from disk,
	// so that a damaged header can never make a reader allocate without bound.
	hardMaxFrameBytes = 256 << 20
)

// Options configures a Log. The zero value (or nil) gives the defaults.
type Options struct {
	// SegmentBytes: roll the active segment once its stored size would pass
	// this many bytes. Default 1 GiB (DefaultSegmentBytes), max 16 GiB. A
	// segment holds at least one frame, so it may exceed this by one frame.
	SegmentBytes int64
	// SegmentAge: roll the active segment when its first frame was appended
	// longer ago than this (Kafka segment.ms). Default 7 days; < 0 never.
	SegmentAge time.Duration
	// ActiveCodec: the codec of frames written to the active segment. It must
	// keep up with the append path (>= 400 MB/s of input per core), which
	// only CodecNone does here, so that is the default (DefaultActiveCodec;
	// see the package doc for the measurements). Tail reads of an
	// uncompressed frame cost no decompression either.
	ActiveCodec Codec
	// ActiveCodecSet makes a zero ActiveCodec mean CodecNone explicitly
	// (the same as the default today; kept so a caller's choice survives a
	// change of default).
	ActiveCodecSet bool
	// SealedCodec: sealed segments are rewritten to this codec in the
	// background. Default zstd. If it equals ActiveCodec nothing is rewritten.
	SealedCodec Codec
	// SealedCodecSet makes a zero SealedCodec mean CodecNone.
	SealedCodecSet bool
	// MaxFrameBytes: the largest uncompressed payload of one Append. Default
	// 64 MiB, max 256 MiB.
	MaxFrameBytes int
	// IndexIntervalBytes: stored bytes between two sparse index entries.
	// Default 4096. Every frame starting after the interval gets an entry.
	IndexIntervalBytes int
	// CacheBytes: budget of the in-memory cache of decompressed frames (the
	// tail, and recently read frames) of this log alone, when Cache is nil.
	// Default 8 MiB; < 0 disables it.
	CacheBytes int
	// Cache, if set, is the cache of decompressed frames this log shares
	// with others (CacheBytes is then unused); a log closed gives its
	// frames up.
	Cache *Cache
	// FS is the file system; nil means the operating system's (OSFS).
	FS FS
	// Logger receives recovery and background-rewrite events; nil discards.
	Logger *slog.Logger
	// Now is the clock for age-based rolling; nil means time.Now.
	Now func() time.Time
	// OnCorrupt, if set, is called once for each damaged frame that a read
	// or the background rewrite finds in a sealed segment (the hook for a
	// corruption metric; Read also returns the error, the rewrite logs it).
	// It must be fast and safe for concurrent use.
	OnCorrupt func(err *CorruptError)
	// DisableBackgroundRewrite keeps sealed segments in the codec they were
	// written with (tests; tools that only read).
	DisableBackgroundRewrite bool
}

// withDefaults returns a copy of o (nil allowed) with defaults filled in, or
// every problem found, joined.
func (o *Options) withDefaults() (Options, error) {
	var c Options
	if o != nil {
		c = *o
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	if c.SegmentAge == 0 {
		c.SegmentAge = DefaultSegmentAge
	}
	if c.ActiveCodec == 0 && !c.ActiveCodecSet {
		c.ActiveCodec = DefaultActiveCodec
	}
	if c.SealedCodec == 0 && !c.SealedCodecSet {
		c.SealedCodec = DefaultSealedCodec
	}
	if c.MaxFrameBytes == 0 {
		c.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if c.IndexIntervalBytes == 0 {
		c.IndexIntervalBytes = DefaultIndexIntervalBytes
	}
	if c.CacheBytes == 0 {
		c.CacheBytes = DefaultCacheBytes
	}
	if c.FS == nil {
		c.FS = OSFS{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	var errs []error
	if c.SegmentBytes < 0 || c.SegmentBytes > maxSegmentBytes {
		errs = append(errs, fmt.Errorf("SegmentBytes (%d) must be in [1, %d]", c.SegmentBytes, int64(maxSegmentBytes)))
	}
	if !c.ActiveCodec.valid() {
		errs = append(errs, fmt.Errorf("ActiveCodec (%d) is not a known codec", c.ActiveCodec))
	}
	if !c.SealedCodec.valid() {
		errs = append(errs, fmt.Errorf("SealedCodec (%d) is not a known codec", c.SealedCodec))
	}
	if c.MaxFrameBytes < 0 || c.MaxFrameBytes > hardMaxFrameBytes {
		errs = append(errs, fmt.Errorf("MaxFrameBytes (%d) must be in [1, %d]", c.MaxFrameBytes, hardMaxFrameBytes))
	}
	if c.IndexIntervalBytes < 0 {
		errs = append(errs, fmt.Errorf("IndexIntervalBytes (%d) must be >= 1", c.IndexIntervalBytes))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("segment options: %w", errors.Join(errs...))
	}
	return c, nil
}

// frameCache returns the log's frame cache: the shared Cache, or one of its
// own of CacheBytes.
func (o *Options) frameCache() *frameCache {
	if o.Cache != nil {
		return o.Cache.fc
	}
	return newFrameCache(o.CacheBytes)
}
