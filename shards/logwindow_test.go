package shards

import "testing"

func TestRaftLogWindow(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name      string
		entries   int   // entries applied, one Update each
		size      int64 // bytes per entry
		retain    int64
		min       uint64
		due       bool
		keep      uint64 // when due, within one grain of entries
		tolerance uint64
	}{
		{"under twice retain", 100, mib, 64 * mib, 10, false, 0, 0},
		{"megabyte entries", 200, mib, 64 * mib, 10, true, 64, 1},
		{"small entries", 200_000, 1 << 10, 64 * mib, 10, true, 65536, 1024},
		{"min entries wins", 200, mib, 2 * mib, 10, true, 10, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w raftLogWindow
			for i := 1; i <= tc.entries; i++ {
				w.observe(uint64(i), tc.size, raftLogGrain)
			}
			upTo, due := w.trim(tc.retain, tc.min)
			if due != tc.due {
				t.Fatalf("due %v, want %v (up to %d)", due, tc.due, upTo)
			}
			if !due {
				return
			}
			keep := uint64(tc.entries) - upTo
			if keep+tc.tolerance < tc.keep || keep > tc.keep+tc.tolerance {
				t.Fatalf("keep %d entries, want %d (±%d)", keep, tc.keep, tc.tolerance)
			}
			if len(w.samples) > int(2*int64(tc.entries)*tc.size/raftLogGrain)+2 {
				t.Fatalf("%d samples for %d bytes: not one per grain", len(w.samples), int64(tc.entries)*tc.size)
			}
			// After the compaction the window holds about retain bytes, so
			// it is not due again until 2*retain more than that arrive.
			w.compacted(uint64(tc.entries), upTo)
			if _, again := w.trim(tc.retain, tc.min); again {
				t.Fatal("due again right after a compaction")
			}
			n := tc.entries
			for w.inLog <= 2*tc.retain || uint64(n) < uint64(tc.entries)+tc.min {
				n++
				w.observe(uint64(n), tc.size, raftLogGrain)
			}
			if _, again := w.trim(tc.retain, tc.min); !again {
				t.Fatalf("not due with %d bytes in the log", w.inLog)
			}
			kept := max(tc.retain, int64(keep)*tc.size)
			if len(w.samples) > int((kept+2*tc.retain+int64(tc.min)*tc.size)/raftLogGrain)+4 {
				t.Fatalf("%d samples kept: the window does not forget compacted ones", len(w.samples))
			}
		})
	}
}

func TestRaftLogWindowAfter(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name      string
		entries   int   // entries applied (indexes 11 on), one Update each
		size      int64 // bytes per entry
		compactAt uint64
		upTo      uint64 // what a compaction at compactAt removed (0: none)
		index     uint64
		want      int64 // at least this, at most a grain more
		known     bool
	}{
		{"caught up", 100, mib, 0, 0, 110, 0, true},
		{"ahead of what was applied", 100, mib, 0, 0, 500, 0, true},
		{"ten entries behind", 100, mib, 0, 0, 100, 10 * mib, true},
		{"small entries", 10_000, 1 << 10, 0, 0, 10_000, 10 << 10, true},
		{"before the replica opened", 100, mib, 0, 0, 5, 0, false},
		{"compacted away", 100, mib, 110, 90, 50, 0, false},
		{"still kept", 100, mib, 110, 90, 95, 15 * mib, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w raftLogWindow
			for i := 11; i < 11+tc.entries; i++ {
				w.observe(uint64(i), tc.size, raftLogGrain)
			}
			if tc.upTo > 0 {
				w.compacted(tc.compactAt, tc.upTo)
			}
			n, known := w.after(tc.index)
			if known != tc.known {
				t.Fatalf("after(%d) known %v, want %v (n %d)", tc.index, known, tc.known, n)
			}
			if known && (n < tc.want || n > tc.want+raftLogGrain) {
				t.Fatalf("after(%d) = %d bytes, want %d to %d", tc.index, n, tc.want, tc.want+raftLogGrain)
			}
		})
	}
}
