// Package raftconf owns chronik's dragonboat settings: the NodeHostConfig
// and the per-replica Config that every chronik NodeHost and replica starts
// with, and the defaults of the few of them that users may choose (tick,
// election and heartbeat ticks, snapshot spacing, LogDB), and where
// dragonboat's process-wide logs go (RouteLogs).
//
// It is the one place to tune them. engine builds its NodeHost and replicas
// from NodeHost and Replica and layers on only what is its own (the static
// node registry, the event listener, the NodeHostID); internal/raftbench
// measures the raw Raft ceiling with exactly the same settings, so a
// performance report can compare chronik against dragonboat alone.
//
// The functions only fill in values; they validate nothing. Callers check
// user input first (engine.Config.Validate, raftbench.Config.Validate), and
// dragonboat checks the result again when the NodeHost or replica starts.
package raftconf
