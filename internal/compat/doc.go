// Package compat holds chronik's client compatibility tests: Kafka clients
// nobody here wrote (sarama, segmentio/kafka-go, kafkajs) create topics,
// produce with every codec they support, consume with partition consumers
// and consumer groups, commit and resume, against in-process clusters
// started with bench.StartEmbedded; and franz-go's own integration suite
// runs against one such broker. CHRONIK_LOGDB runs them all on another
// Raft log store (e.g. tan). The package has no non-test code;
// docs/COMPATIBILITY.md summarises the results.
package compat
