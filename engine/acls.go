package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/chronik-io/chronik/acl"
	"github.com/chronik-io/chronik/shards"
)

// This file serves the access control bindings stored in __meta. The engine
// stores them; the kafka package enforces them (acl.Authorizer).

// aclIndex is the acl.Index of the bindings at one __meta ACLVersion.
type aclIndex struct {
	version uint64
	ix      *acl.Index
}

// CreateACLs stores bindings in __meta, replicated to every broker. A
// binding already stored is not stored twice. Either every binding is
// stored or, on error, none.
//
// Errors: ErrInvalidACL (a binding fails acl.Binding.Validate, or __meta
// would hold more than shards.MaxACLs), ErrTimeout, ErrClosed.
func (e *Engine) CreateACLs(ctx context.Context, bindings []acl.Binding) error {
	for _, b := range bindings {
		if err := b.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidACL, err)
		}
	}
	if len(bindings) == 0 {
		return nil
	}
	_, err := e.proposeMeta(ctx, shards.MetaCommand{Op: shards.OpCreateACLs, ACLs: bindings})
	var me *metaError
	if errors.As(err, &me) {
		return fmt.Errorf("create %d acls: %w (__meta code %d)", len(bindings), ErrInvalidACL, me.code)
	}
	if err != nil {
		return fmt.Errorf("create %d acls: %w", len(bindings), err)
	}
	return nil
}

// DeleteACLs removes the bindings each filter matches and returns them, per
// filter (a binding two filters match is listed under both). The filters
// are resolved against this broker's view of __meta, then the bindings
// found are removed through __meta: a binding created meanwhile that a
// filter would match stays.
//
// Errors: ErrInvalidACL (a filter fails acl.Filter.Validate), ErrTimeout,
// ErrClosed.
func (e *Engine) DeleteACLs(ctx context.Context, filters []acl.Filter) ([][]acl.Binding, error) {
	for _, f := range filters {
		if err := f.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidACL, err)
		}
	}
	stored := e.meta.State().ACLs
	out := make([][]acl.Binding, len(filters))
	var drop []acl.Binding
	seen := map[acl.Binding]bool{}
	for i, f := range filters {
		for _, b := range stored {
			if !f.Matches(b) {
				continue
			}
			out[i] = append(out[i], b)
			if !seen[b] {
				seen[b] = true
				drop = append(drop, b)
			}
		}
	}
	if len(drop) == 0 {
		return out, nil
	}
	if _, err := e.proposeMeta(ctx, shards.MetaCommand{Op: shards.OpDeleteACLs, ACLs: drop}); err != nil {
		return nil, fmt.Errorf("delete %d acls: %w", len(drop), err)
	}
	return out, nil
}

// ACLs returns the stored bindings f matches, in creation order, from this
// broker's view of __meta (no Raft round trip). An invalid filter matches
// nothing.
func (e *Engine) ACLs(f acl.Filter) []acl.Binding {
	if f.Validate() != nil {
		return nil
	}
	var out []acl.Binding
	for _, b := range e.meta.State().ACLs {
		if f.Matches(b) {
			out = append(out, b)
		}
	}
	return out
}

// ACLIndex returns an index of the stored bindings, for an acl.Authorizer.
// It is rebuilt on the first call after the bindings change in __meta, and
// otherwise shared: cheap enough to call for every request.
func (e *Engine) ACLIndex() *acl.Index {
	st := e.meta.State()
	cur := e.acls.Load()
	if cur != nil && cur.version == st.ACLVersion {
		return cur.ix
	}
	next := &aclIndex{version: st.ACLVersion, ix: acl.NewIndex(st.ACLs)}
	// A racing caller may have stored an index of a newer state; keep
	// the newer one.
	for !e.acls.CompareAndSwap(cur, next) {
		cur = e.acls.Load()
		if cur != nil && cur.version >= next.version {
			return cur.ix
		}
	}
	return next.ix
}
