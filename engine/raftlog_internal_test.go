package engine

import "testing"

func TestRaftLogRetain(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name           string
		retain, budget int64
		n              int
		want           int64
	}{
		{"few partitions keep retain", 128 * mib, 1024 * mib, 2, 128 * mib},
		{"many share the budget", 128 * mib, 1024 * mib, 64, 8 * mib},
		{"share never below the floor", 128 * mib, 1024 * mib, 10_000, raftLogMinRetain},
		{"retain below the floor stays", mib, 1024 * mib, 10_000, mib},
		{"no budget", 128 * mib, -1, 10_000, 128 * mib},
		{"no partitions", 128 * mib, 1024 * mib, 0, 128 * mib},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := raftLogRetain(tc.retain, tc.budget, tc.n); got != tc.want {
				t.Fatalf("raftLogRetain(%d, %d, %d) = %d, want %d", tc.retain, tc.budget, tc.n, got, tc.want)
			}
		})
	}
}
