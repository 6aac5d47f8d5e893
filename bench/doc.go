// Package bench is chronik's Kafka-protocol load generator: it drives produce
// and consume load against any Kafka-compatible broker (or an in-process
// chronik cluster), records latencies in HDR histograms and prints reports.
package bench
