package raftconf

import (
	_ "unsafe" // go:linkname, for the transport below

	"github.com/lni/dragonboat/v4/config"
	"github.com/lni/dragonboat/v4/raftio"
	pb "github.com/lni/dragonboat/v4/raftpb"
	"github.com/lni/goutils/stringutil"
)

// A partition leader keeps its Raft log for followers to catch up from,
// but dragonboat tells no one how far each follower got. Every follower
// says so itself, in the ReplicateResp messages it sends its leader; the
// transport below is dragonboat's own TCP transport with a look at each
// message batch it receives, reporting those acknowledgements before
// dragonboat handles them. The linkname reaches the TCP transport's
// constructor, which dragonboat builds but does not export.

//go:linkname newTCPTransport github.com/lni/dragonboat/v4/internal/transport.NewTCPTransport
func newTCPTransport(nhConfig config.NodeHostConfig, requestHandler raftio.MessageHandler, chunkHandler raftio.ChunkHandler) raftio.ITransport

// ReplicatedFunc is told that replica of shard acknowledged holding the
// leader's log up to index, in term. It runs on the transport's receive
// goroutines and must not block.
type ReplicatedFunc func(shard, replica, term, index uint64)

// ObserveReplication makes the NodeHost of nhc tell onReplicated of every
// follower acknowledgement it receives as a leader.
func ObserveReplication(nhc *config.NodeHostConfig, onReplicated ReplicatedFunc) {
	nhc.Expert.TransportFactory = observingTransport{onReplicated: onReplicated}
}

// observingTransport creates dragonboat's TCP transport with received
// ReplicateResp acknowledgements reported to onReplicated.
type observingTransport struct {
	onReplicated ReplicatedFunc
}

// Create implements config.TransportFactory.
func (f observingTransport) Create(nhc config.NodeHostConfig, handler raftio.MessageHandler, chunks raftio.ChunkHandler) raftio.ITransport {
	return newTCPTransport(nhc, func(b pb.MessageBatch) {
		observeReplicated(b, f.onReplicated)
		handler(b)
	}, chunks)
}

// Validate implements config.TransportFactory as dragonboat does for its
// own TCP transport.
func (observingTransport) Validate(addr string) bool { return stringutil.IsValidAddress(addr) }

// observeReplicated reports the accepted ReplicateResp messages of b.
func observeReplicated(b pb.MessageBatch, onReplicated ReplicatedFunc) {
	for i := range b.Requests {
		if m := &b.Requests[i]; m.Type == pb.ReplicateResp && !m.Reject {
			onReplicated(m.ShardID, m.From, m.Term, m.LogIndex)
		}
	}
}
