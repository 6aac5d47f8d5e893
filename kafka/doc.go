// Package kafka is chronik's Kafka wire-protocol server: framing, request
// decoding with kmsg, one file per API key, the error-code table and the
// group coordinator. It is a frontend over package engine.
package kafka
