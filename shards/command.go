package shards

import (
	"encoding/binary"
	"fmt"
)

// Partition shard commands. A command is one Raft entry:
//
//	append:        [1][flags u8][leader epoch i32][append time ms i64][batches...]
//	set log start: [2][offset i64]
//	txn marker:    [3][flags u8][leader epoch i32][append time ms i64][producer id i64][producer epoch i16][coordinator epoch i32] (txn.go)
//
// Batches travel exactly as the producer sent them; the state machine
// rewrites offsets and epochs on a copy when it applies them.
const (
	cmdAppend      byte = 1
	cmdSetLogStart byte = 2

	flagLogAppendTime byte = 1

	appendHeaderSize = 14
)

// AppendCommand builds an append command carrying batches. leaderEpoch is
// written into every batch; appendTimeMs becomes the batches' timestamp when
// logAppendTime is set (and is otherwise ignored).
func AppendCommand(dst []byte, batches []byte, leaderEpoch int32, appendTimeMs int64, logAppendTime bool) []byte {
	var flags byte
	if logAppendTime {
		flags |= flagLogAppendTime
	}
	dst = append(dst, cmdAppend, flags)
	dst = binary.BigEndian.AppendUint32(dst, uint32(leaderEpoch))
	dst = binary.BigEndian.AppendUint64(dst, uint64(appendTimeMs))
	return append(dst, batches...)
}

// SetLogStartCommand builds a command that moves the log start offset to
// offset (retention, DeleteRecords). Segments wholly below it are deleted.
func SetLogStartCommand(offset int64) []byte {
	b := []byte{cmdSetLogStart}
	return binary.BigEndian.AppendUint64(b, uint64(offset))
}

type appendCmd struct {
	logAppendTime bool
	leaderEpoch   int32
	appendTime    int64
	batches       []byte
}

func decodeAppend(b []byte) (appendCmd, error) {
	if len(b) < appendHeaderSize || b[0] != cmdAppend {
		return appendCmd{}, fmt.Errorf("append command of %d bytes", len(b))
	}
	return appendCmd{
		logAppendTime: b[1]&flagLogAppendTime != 0,
		leaderEpoch:   int32(binary.BigEndian.Uint32(b[2:])),
		appendTime:    int64(binary.BigEndian.Uint64(b[6:])),
		batches:       b[appendHeaderSize:],
	}, nil
}

// Result codes of a partition entry. sm.Result.Value holds the base offset
// when Data is empty; otherwise Data[0] is one of these codes.
const (
	ResultOK byte = iota
	ResultOutOfOrderSequence
	ResultInvalidProducerEpoch
	ResultCorrupt
	ResultBadCommand
	// ResultCoordinatorFenced: a transaction marker from a coordinator
	// epoch older than the last one seen for the producer.
	ResultCoordinatorFenced
	// ResultInvalidTxnState: a non-transactional batch from a producer
	// with a transaction ongoing on the partition.
	ResultInvalidTxnState
)
