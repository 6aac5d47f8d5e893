// Package engine is chronik's embeddable, replicated log: Open gives a broker
// that creates topics, produces, fetches and lists offsets, every write
// replicated by Multi-Raft (one Raft group per partition, plus __meta), with
// no Kafka listener unless one is wired on top (package kafka).
package engine
