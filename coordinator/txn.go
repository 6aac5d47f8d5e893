package coordinator

// The transaction coordinator: Kafka's exactly-once transactions as a state
// machine over the partitions of the internal topic __transaction_state,
// beside the group coordinator and built the same way.
//
// A transactional id belongs to partition abs(javaStringHashCode(id)) % N
// of __transaction_state (PartitionFor, Kafka's formula) and is coordinated
// by that partition's Raft leader. A watcher polls the local replicas of the
// topic and loads a partition on becoming its leader (txn_load.go: load
// marker, replay); every state change is a TxnMetadataKey/TxnMetadataValue
// record (Kafka's format, txn_records.go) committed through Raft before the
// client is answered. Ending a transaction writes the PrepareCommit or
// PrepareAbort record, answers, and then writes a commit or abort marker to
// every partition of the transaction through a MarkerWriter, retrying until
// each is written, before the CompleteCommit/CompleteAbort record
// (txn_markers.go). A new leader finishes the transactions it finds
// prepared.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// TxnTopic is the internal topic holding transaction state.
const TxnTopic = "__transaction_state"

// TxnConfig configures the transaction coordinator. Zero values mean the
// default noted on each field.
type TxnConfig struct {
	// TopicPartitions is the partition count of __transaction_state when
	// this broker creates it (transaction.state.log.num.partitions).
	// Default 16. An existing topic keeps its count.
	TopicPartitions int32
	// TopicReplicationFactor is its replication factor
	// (transaction.state.log.replication.factor). Default min(3, brokers).
	TopicReplicationFactor int16
	// MaxTimeout bounds the timeout a producer may ask for
	// (transaction.max.timeout.ms). Default 15 minutes.
	MaxTimeout time.Duration
	// AbortCheckInterval is how often transactions open past their timeout
	// are looked for and aborted
	// (transaction.abort.timed.out.transaction.cleanup.interval.ms).
	// Default 10s.
	AbortCheckInterval time.Duration
	// MarkerRetryBackoff is the pause before writing a marker again after a
	// failure. Default 100ms.
	MarkerRetryBackoff time.Duration
	// PollInterval is how often leadership of the __transaction_state
	// partitions is checked. Default 100ms.
	PollInterval time.Duration
	// IDExpiration is how long a transactional id with no transaction
	// open is kept after its last update (transactional.id.expiration.ms);
	// then its state is deleted and a producer using it starts afresh.
	// Default 7 days.
	IDExpiration time.Duration
}

func (c *TxnConfig) setDefaults() {
	if c.TopicPartitions == 0 {
		c.TopicPartitions = 16
	}
	if c.MaxTimeout == 0 {
		c.MaxTimeout = 15 * time.Minute
	}
	if c.AbortCheckInterval == 0 {
		c.AbortCheckInterval = 10 * time.Second
	}
	if c.MarkerRetryBackoff == 0 {
		c.MarkerRetryBackoff = 100 * time.Millisecond
	}
	if c.PollInterval == 0 {
		c.PollInterval = 100 * time.Millisecond
	}
	if c.IDExpiration == 0 {
		c.IDExpiration = 7 * 24 * time.Hour
	}
}

// WithDefaults returns c with every zero field set to its default.
func (c TxnConfig) WithDefaults() TxnConfig {
	c.setDefaults()
	return c
}

// Validate reports every field with a bad value, joined (nil if none).
func (c TxnConfig) Validate() error {
	var errs []error
	if c.TopicPartitions < 0 {
		errs = append(errs, fmt.Errorf("coordinator: TxnConfig.TopicPartitions (%d) must be >= 0", c.TopicPartitions))
	}
	if c.TopicReplicationFactor < 0 {
		errs = append(errs, fmt.Errorf("coordinator: TxnConfig.TopicReplicationFactor (%d) must be >= 0", c.TopicReplicationFactor))
	}
	if c.MaxTimeout < 0 || c.AbortCheckInterval < 0 || c.MarkerRetryBackoff < 0 || c.PollInterval < 0 || c.IDExpiration < 0 {
		errs = append(errs, errors.New("coordinator: TxnConfig durations must be >= 0"))
	}
	return errors.Join(errs...)
}

// TxnBackend is what the transaction coordinator needs of the replicated
// log: the group coordinator's Backend over __transaction_state, and
// cluster-unique producer ids. *engine.Engine implements it.
type TxnBackend interface {
	Backend
	// AllocateProducerID returns a cluster-unique producer id.
	AllocateProducerID(ctx context.Context) (id int64, epoch int16, err error)
}

var _ TxnBackend = (*engine.Engine)(nil)

// MarkerWriter appends transaction markers to data partitions. It is safe
// for concurrent use.
type MarkerWriter interface {
	// WriteTxnMarker appends a commit (or abort) control batch of the
	// producer to a partition through Raft and returns once it is committed.
	// coordinatorEpoch is the leader epoch of the coordinating
	// __transaction_state partition, so that a partition can ignore markers
	// of a deposed coordinator. It fails with engine.ErrUnknownTopic or
	// engine.ErrUnknownPartition when the partition no longer exists, and
	// with transient errors (not leader, timeout) the coordinator retries.
	WriteTxnMarker(ctx context.Context, topic string, partition int32, producerID int64, producerEpoch int16, commit bool, coordinatorEpoch int32) error
}

// TxnCoordinator owns the transactions of the __transaction_state
// partitions this broker leads. Its methods are safe for concurrent use.
type TxnCoordinator struct {
	be  TxnBackend // nil: transactions unavailable
	mw  MarkerWriter
	cfg TxnConfig
	log *slog.Logger
	now func() time.Time

	stop chan struct{}
	done chan struct{}
	wg   sync.WaitGroup // marker writers

	// set holds the __transaction_state partitions this broker leads.
	set partitionSet[*txnPartition]
}

// txnPartition is one __transaction_state partition led by this broker.
type txnPartition struct {
	tc    *TxnCoordinator
	p     int32
	epoch int32
	// ctx is cancelled when leadership is lost; writes use it.
	ctx    context.Context
	cancel context.CancelFunc
	loaded chan struct{} // closed once the log is replayed

	mu   sync.Mutex
	txns map[string]*txnMeta

	// The live records of the partition (compact.go).
	liveLog
}

// txnMeta is the state of one transactional id. mu is held across the
// write of a state change, so changes of one id are serial.
type txnMeta struct {
	mu   sync.Mutex
	id   string
	dead bool // its partition was unloaded

	producerID int64
	epoch      int16
	// prevProducerID and prevEpoch are what the last InitProducerID
	// replaced (kept in memory only), so that its retry (KIP-360) gets the
	// same answer instead of a second bump.
	prevProducerID int64
	prevEpoch      int16
	timeoutMs      int32
	state          kmsg.TransactionState
	parts          map[topicPartition]struct{}
	start          time.Time // first partition added (Ongoing)
	lastUpdate     time.Time
}

// NewTxn returns a transaction coordinator over be writing markers through
// mw and starts its watcher. A nil be or mw serves no transactions: every
// call answers COORDINATOR_NOT_AVAILABLE. A nil log discards. Close stops
// it.
func NewTxn(be TxnBackend, mw MarkerWriter, cfg TxnConfig, log *slog.Logger) *TxnCoordinator {
	cfg.setDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tc := &TxnCoordinator{cfg: cfg, log: log.With("component", "txns"), now: time.Now,
		stop: make(chan struct{}), done: make(chan struct{})}
	tc.set = partitionSet[*txnPartition]{be: be, topic: TxnTopic, log: tc.log, parts: map[int32]*txnPartition{},
		noTopic: kerr.NotCoordinator,
		create: engine.TopicConfig{
			Partitions:        cfg.TopicPartitions,
			ReplicationFactor: cfg.TopicReplicationFactor,
			RetentionMs:       -1, // state is replaced by newer records, never expired by time
			CleanupPolicy:     "compact",
		},
		newPart: func(p, epoch int32) *txnPartition {
			ctx, cancel := context.WithCancel(context.Background())
			return &txnPartition{tc: tc, p: p, epoch: epoch, ctx: ctx, cancel: cancel,
				loaded: make(chan struct{}), txns: map[string]*txnMeta{}}
		}}
	if be != nil && mw != nil {
		tc.be, tc.mw = be, mw
		go tc.run()
	} else {
		close(tc.done)
	}
	return tc
}

// Enabled reports whether the coordinator serves transactions (its backend
// can write transaction markers).
func (tc *TxnCoordinator) Enabled() bool { return tc.be != nil }

// Close stops the watcher, the timeout checks and the marker writers (a new
// leader finishes their transactions). It is safe to call more than once.
func (tc *TxnCoordinator) Close() {
	select {
	case <-tc.stop:
	default:
		close(tc.stop)
	}
	<-tc.done
	tc.set.unloadAll()
	tc.wg.Wait()
}

func (tc *TxnCoordinator) run() {
	defer close(tc.done)
	t := time.NewTicker(tc.cfg.PollInterval)
	defer t.Stop()
	abort := time.NewTicker(tc.cfg.AbortCheckInterval)
	defer abort.Stop()
	compaction := time.NewTicker(compactCheckInterval)
	defer compaction.Stop()
	for {
		select {
		case <-tc.stop:
			return
		case <-t.C:
			tc.set.watch()
		case <-abort.C:
			tc.abortTimedOut()
			tc.expireIDs()
		case <-compaction.C:
			tc.compact()
		}
	}
}

func (tp *txnPartition) partition() int32          { return tp.p }
func (tp *txnPartition) leaderEpoch() int32        { return tp.epoch }
func (tp *txnPartition) loadedCh() <-chan struct{} { return tp.loaded }

// unload drops the partition's transactions; marker writers stop, and
// later calls on a held *txnMeta see it dead.
func (tp *txnPartition) unload() {
	tp.cancel()
	tp.mu.Lock()
	txns := tp.txns
	tp.txns = map[string]*txnMeta{}
	tp.mu.Unlock()
	for _, t := range txns {
		t.mu.Lock()
		t.dead = true
		t.mu.Unlock()
	}
}

// Locate returns the broker coordinating transactional id txnID: the leader
// of its __transaction_state partition. The error is
// COORDINATOR_NOT_AVAILABLE while the topic is being created (Locate starts
// that), the partition has no leader or its first leader is handing it to
// the preferred replica (partitionSet.locate), or transactions are
// unavailable.
func (tc *TxnCoordinator) Locate(txnID string) (uint64, *kerr.Error) {
	if tc.be == nil {
		return 0, kerr.CoordinatorNotAvailable
	}
	return tc.set.locate(topicInfo(tc.be.Metadata(TxnTopic), TxnTopic), txnID)
}

// partitionOf returns the loaded partition coordinating txnID on this
// broker, or NOT_COORDINATOR (another broker or none),
// COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE.
func (tc *TxnCoordinator) partitionOf(txnID string) (*txnPartition, *kerr.Error) {
	if tc.be == nil {
		return nil, kerr.CoordinatorNotAvailable
	}
	return tc.set.partitionOf(txnID)
}

// lookup returns the id's state locked and alive, creating it (with no
// producer id yet) when create is set; nil when it does not exist or the
// partition is gone. Callers unlock it.
func (tp *txnPartition) lookup(id string, create bool) *txnMeta {
	for {
		tp.mu.Lock()
		if tp.ctx.Err() != nil {
			tp.mu.Unlock()
			return nil
		}
		t := tp.txns[id]
		if t == nil {
			if !create {
				tp.mu.Unlock()
				return nil
			}
			t = &txnMeta{id: id, producerID: -1, epoch: -1, prevProducerID: -1, prevEpoch: -1,
				parts: map[topicPartition]struct{}{}}
			tp.txns[id] = t
		}
		tp.mu.Unlock()
		t.mu.Lock()
		if !t.dead {
			return t
		}
		t.mu.Unlock()
	}
}

// all returns the partition's ids; each is locked (t.mu) only after
// tp.mu is released, as the lock order elsewhere is t.mu, then tp.mu.
func (tp *txnPartition) all() []*txnMeta {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	txns := make([]*txnMeta, 0, len(tp.txns))
	for _, t := range tp.txns {
		txns = append(txns, t)
	}
	return txns
}

// forget drops a state that was created by lookup but never written.
func (tp *txnPartition) forget(t *txnMeta) {
	tp.mu.Lock()
	if tp.txns[t.id] == t && t.producerID < 0 {
		delete(tp.txns, t.id)
	}
	tp.mu.Unlock()
}

// write appends records to the partition through Raft and returns once
// they are committed. It fails once leadership is lost.
func (tp *txnPartition) write(recs ...engine.Record) error {
	ctx, cancel := context.WithTimeout(tp.ctx, 15*time.Second)
	defer cancel()
	tp.wmu.RLock()
	defer tp.wmu.RUnlock()
	if _, err := tp.tc.be.Produce(ctx, TxnTopic, tp.p, recs); err != nil {
		return fmt.Errorf("write %d records to %s partition %d: %w", len(recs), TxnTopic, tp.p, err)
	}
	tp.track(recs)
	return nil
}
