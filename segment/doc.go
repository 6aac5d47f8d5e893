// Package segment owns one partition's on-disk log: a directory of segment
// files holding Kafka v2 record batches in compressed, checksummed frames,
// with sparse offset and time indexes. It knows nothing of Raft or Kafka
// requests and imports only the standard library and codecs.
package segment
