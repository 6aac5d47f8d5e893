package engine

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/chronik-io/chronik/shards"
)

// RemoveMovedAway runs the sweep of replicas moved away while this broker
// was down (reassign.go) at once, for tests.
func (e *Engine) RemoveMovedAway() bool { return e.removeMovedAway() }

// MarkBrokerRemoved records broker id's removal in __meta and does nothing
// more, as a RemoveBroker cut short after its first step would, for tests.
func (e *Engine) MarkBrokerRemoved(ctx context.Context, id uint64) error {
	_, err := e.proposeMeta(ctx, shards.MetaCommand{Op: shards.OpRemoveBroker, Broker: &shards.BrokerInfo{ID: id}})
	return err
}

// SetRemovalResumeDelay sets how long a removal may stay unfinished before
// __meta's leader finishes it, for tests; it returns the previous value.
func SetRemovalResumeDelay(d time.Duration) time.Duration {
	old := removalResumeDelay
	removalResumeDelay = d
	return old
}

// MetaVoters returns __meta's voting members (broker ids), for tests.
func (e *Engine) MetaVoters(ctx context.Context) ([]uint64, error) {
	m, err := e.metaMembership(ctx)
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(m.Nodes)), nil
}

// RegistryAddr returns broker id's address in this broker's Raft registry,
// for tests.
func (e *Engine) RegistryAddr(id uint64) (string, bool) { return e.reg.Addr(id) }
