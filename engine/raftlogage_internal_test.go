package engine

import (
	"testing"
	"time"
)

func TestLogAgesDue(t *testing.T) {
	const maxAge, every = 4 * time.Minute, time.Minute
	t0 := time.Unix(1_000_000, 0)
	type step struct {
		at        time.Duration // since t0
		applied   uint64
		compacted uint64 // compactedTo before due, if not zero
		upTo      uint64
		ok        bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"nothing applied", []step{{0, 0, 0, 0, false}, {10 * time.Minute, 0, 0, 0, false}}},
		{"young entries stay", []step{{0, 10, 0, 0, false}, {3 * time.Minute, 20, 0, 0, false}}},
		{"an idle replica compacts everything once old", []step{
			{0, 10, 0, 0, false},
			{maxAge, 10, 0, 10, true},
			{maxAge + time.Second, 10, 10, 0, false},
			{time.Hour, 10, 0, 0, false},
		}},
		{"only the old part of a busy log", []step{
			{0, 100, 0, 0, false},
			{30 * time.Second, 150, 0, 0, false}, // within every: no new mark
			{every, 200, 0, 0, false},
			{2 * every, 300, 0, 0, false},
			{maxAge, 400, 0, 100, true},
			{maxAge + every, 500, 100, 200, true},
		}},
		{"compacted by bytes past the old marks", []step{
			{0, 100, 0, 0, false},
			{every, 200, 0, 0, false},
			{maxAge + every, 300, 250, 0, false},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a logAges
			for i, s := range tc.steps {
				if s.compacted > 0 {
					a.compactedTo(s.compacted)
				}
				upTo, ok, _ := a.due(t0.Add(s.at), s.applied, maxAge, every)
				if ok != s.ok || (ok && upTo != s.upTo) {
					t.Fatalf("step %d (at %s, applied %d): due = %d, %v; want %d, %v", i, s.at, s.applied, upTo, ok, s.upTo, s.ok)
				}
			}
		})
	}
}

func TestLogAgesIdle(t *testing.T) {
	const maxAge, every = 4 * time.Minute, time.Minute
	t0 := time.Unix(1_000_000, 0)
	var a logAges
	for _, s := range []struct {
		at      time.Duration
		applied uint64
		idle    bool
	}{
		{0, 5, false},
		{3 * time.Minute, 5, false},
		{maxAge, 5, true},       // nothing new for maxAge
		{maxAge + 1, 6, false},  // the empty entry arrived
		{2 * maxAge, 6, false},  // 4m - 1ns since
		{2*maxAge + 1, 6, true}, // idle again
	} {
		if _, _, idle := a.due(t0.Add(s.at), s.applied, maxAge, every); idle != s.idle {
			t.Fatalf("at %s applied %d: idle = %v, want %v", s.at, s.applied, idle, s.idle)
		}
	}
	if !a.mayNudge(t0, every) || a.mayNudge(t0.Add(every-1), every) || !a.mayNudge(t0.Add(every), every) {
		t.Fatal("mayNudge does not allow exactly one empty entry per interval")
	}
}
