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
			keep, due := w.trim(tc.retain, tc.min)
			if due != tc.due {
				t.Fatalf("due %v, want %v (keep %d)", due, tc.due, keep)
			}
			if !due {
				return
			}
			if keep+tc.tolerance < tc.keep || keep > tc.keep+tc.tolerance {
				t.Fatalf("keep %d entries, want %d (±%d)", keep, tc.keep, tc.tolerance)
			}
			if len(w.samples) > int(2*int64(tc.entries)*tc.size/raftLogGrain)+2 {
				t.Fatalf("%d samples for %d bytes: not one per grain", len(w.samples), int64(tc.entries)*tc.size)
			}
			// After the compaction the window holds about retain bytes, so
			// it is not due again until 2*retain more than that arrive.
			w.compacted(uint64(tc.entries), keep)
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
