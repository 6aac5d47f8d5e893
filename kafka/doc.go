// Package kafka is chronik's Kafka wire-protocol server. Unmodified Kafka
// clients (franz-go, librdkafka/kcat, Java, sarama) talk to it. It is a
// frontend over package engine: it decodes requests with kmsg, calls the
// engine, and encodes the answer; replication, storage and validation of
// record batches are the engine's.
//
// # Usage
//
// Listen first, open the engine with the address actually bound (it is
// registered in __meta and returned to clients by Metadata), then serve:
//
//	ln, err := net.Listen("tcp", "127.0.0.1:9092")
//	...
//	cfg.KafkaAddr = ln.Addr().String()
//	e, err := engine.Open(cfg)
//	...
//	srv, err := kafka.New(e, kafka.Config{AutoCreateTopics: true})
//	...
//	go srv.Serve(ln) // returns nil after Close
//	...
//	srv.Close() // stop accepting, finish in-flight requests
//	e.Close()   // then hand leadership over and stop the shards
//
// # Guarantees
//
//   - Produce with acks=1 or acks=-1 is answered once the batch is committed
//     on a Raft quorum and applied: acks=1 is as strong as acks=all. acks=0
//     writes no response.
//   - Requests on one connection are answered in order. Produce requests are
//     pipelined (proposed at once, answered when committed; one partition's
//     batches commit in the order sent); any other request waits until the
//     earlier ones are answered.
//   - Only framing and decoding failures (a frame over Config.MaxFrameBytes
//     or Config.QueuedMaxRequestBytes, an API key no Kafka version defines,
//     an undecodable body) close a connection; every other failure is an
//     error code in the response, mapped from engine errors by one table
//     (errors.go). A connection past Config.MaxConnections is closed at
//     accept.
//   - Buffered request bytes are bounded broker-wide by
//     Config.QueuedMaxRequestBytes: when the budget is spent, connections
//     stop reading until responses are written (backpressure).
//   - A key or version outside the handler table is answered in that API's
//     format with UNSUPPORTED_VERSION; ApiVersions newer than ours gets the
//     v0 fallback (KIP-511).
//
// # Implementation notes
//
// Each API key lives in its own file named by key (00_produce.go,
// 01_fetch.go, ...) that starts with a header of versions and behaviour and
// registers its handler with regKey; ApiVersions is built from that one
// table. docs/KAFKA.md lists the APIs, versions and the choices made where
// Kafka's behaviour could not be copied.
package kafka
