package acl

import (
	"slices"
)

// Index is an immutable lookup structure over a set of bindings: the
// bindings that apply to a resource are found with a few map lookups, not a
// scan. Safe for concurrent use.
type Index struct {
	types map[ResourceType]*typeIndex
	n     int
}

// typeIndex holds the bindings of one resource type.
type typeIndex struct {
	literal  map[string][]Binding // by resource name, "*" included
	prefixed map[string][]Binding // by prefix
	lens     []int                // the distinct prefix lengths, ascending
}

// NewIndex indexes bs. bs is not retained. Invalid bindings are kept: they
// never match a request they should not, since they are matched by their
// fields as they are.
func NewIndex(bs []Binding) *Index {
	ix := &Index{types: map[ResourceType]*typeIndex{}, n: len(bs)}
	for _, b := range bs {
		t := ix.types[b.ResourceType]
		if t == nil {
			t = &typeIndex{literal: map[string][]Binding{}, prefixed: map[string][]Binding{}}
			ix.types[b.ResourceType] = t
		}
		switch b.PatternType {
		case Literal:
			t.literal[b.ResourceName] = append(t.literal[b.ResourceName], b)
		case Prefixed:
			if _, ok := t.prefixed[b.ResourceName]; !ok && !slices.Contains(t.lens, len(b.ResourceName)) {
				t.lens = append(t.lens, len(b.ResourceName))
			}
			t.prefixed[b.ResourceName] = append(t.prefixed[b.ResourceName], b)
		}
	}
	for _, t := range ix.types {
		slices.Sort(t.lens)
	}
	return ix
}

// Len is the number of bindings indexed.
func (ix *Index) Len() int {
	if ix == nil {
		return 0
	}
	return ix.n
}

// matching calls f with each binding that applies to the resource (rt,
// name), until f returns false; it reports whether any applied.
func (ix *Index) matching(rt ResourceType, name string, f func(Binding) bool) (any bool) {
	if ix == nil {
		return false
	}
	t := ix.types[rt]
	if t == nil {
		return false
	}
	each := func(bs []Binding) bool {
		for _, b := range bs {
			any = true
			if !f(b) {
				return false
			}
		}
		return true
	}
	if !each(t.literal[name]) {
		return any
	}
	if name != WildcardResource && !each(t.literal[WildcardResource]) {
		return any
	}
	for _, l := range t.lens {
		if l > len(name) {
			break
		}
		if !each(t.prefixed[name[:l]]) {
			return any
		}
	}
	return any
}

// Request is one authorization question: may Principal, connected from
// Host, do Operation on the resource (ResourceType, Name)?
type Request struct {
	Principal    string // "User:<name>"
	Host         string // client IP address
	Operation    Operation
	ResourceType ResourceType
	Name         string // ClusterName for Cluster
}

// Config configures an Authorizer.
type Config struct {
	// SuperUsers are principals ("User:admin") allowed everything, whatever
	// the bindings say (Kafka's super.users).
	SuperUsers []string
	// AllowEveryoneIfNoACL allows a request on a resource no binding
	// applies to (Kafka's allow.everyone.if.no.acl.found). Default false:
	// such requests are denied.
	AllowEveryoneIfNoACL bool
}

// Authorizer answers Requests against an Index. It holds only its Config, so
// one Authorizer serves every Index the bindings go through. Safe for
// concurrent use.
type Authorizer struct {
	super         map[string]bool
	allowEveryone bool
}

// NewAuthorizer returns an authorizer with cfg.
func NewAuthorizer(cfg Config) *Authorizer {
	a := &Authorizer{super: map[string]bool{}, allowEveryone: cfg.AllowEveryoneIfNoACL}
	for _, p := range cfg.SuperUsers {
		a.super[p] = true
	}
	return a
}

// IsSuperUser reports whether principal is a super user.
func (a *Authorizer) IsSuperUser(principal string) bool { return a.super[principal] }

// Authorize answers r against ix with the semantics of the package doc. A
// nil ix has no bindings.
func (a *Authorizer) Authorize(ix *Index, r Request) bool {
	if a.super[r.Principal] {
		return true
	}
	denied, allowed := false, false
	matched := ix.matching(r.ResourceType, r.Name, func(b Binding) bool {
		if !entryMatches(b, r) {
			return true
		}
		switch b.Permission {
		case Deny:
			if b.Operation == All || b.Operation == r.Operation {
				denied = true
				return false
			}
		case Allow:
			allowed = allowed || implies(b.Operation, r.Operation)
		}
		return true
	})
	switch {
	case denied:
		return false
	case !matched:
		return a.allowEveryone
	}
	return allowed
}

// AuthorizeAny reports whether r.Principal may do r.Operation on at least one
// resource of type r.ResourceType (r.Name is ignored), as Kafka's
// authorizeByResourceType, which InitProducerId uses to let a producer that
// may write some topic be idempotent. It is allowed when the principal has an
// Allow binding for the operation that no Deny on the same pattern, or on
// the literal wildcard, overrides; or, with AllowEveryoneIfNoACL, when the
// type has no bindings at all.
func (a *Authorizer) AuthorizeAny(ix *Index, r Request) bool {
	if a.super[r.Principal] {
		return true
	}
	if ix == nil || ix.types[r.ResourceType] == nil {
		return a.allowEveryone
	}
	t := ix.types[r.ResourceType]
	deniedOn := func(pt PatternType, name string) bool {
		var bs []Binding
		if pt == Literal {
			bs = t.literal[name]
		} else {
			bs = t.prefixed[name]
		}
		for _, b := range bs {
			if b.Permission == Deny && entryMatches(b, r) && (b.Operation == All || b.Operation == r.Operation) {
				return true
			}
		}
		return false
	}
	if deniedOn(Literal, WildcardResource) {
		return false
	}
	for _, pt := range []PatternType{Literal, Prefixed} {
		m := t.literal
		if pt == Prefixed {
			m = t.prefixed
		}
		for name, bs := range m {
			for _, b := range bs {
				if b.Permission == Allow && entryMatches(b, r) && implies(b.Operation, r.Operation) && !deniedOn(pt, name) {
					return true
				}
			}
		}
	}
	return false
}

// entryMatches reports whether b's principal and host apply to r.
func entryMatches(b Binding, r Request) bool {
	return (b.Principal == r.Principal || b.Principal == WildcardPrincipal) &&
		(b.Host == r.Host || b.Host == WildcardHost)
}

// implies reports whether allowing granted allows op: All allows every
// operation; Read, Write, Delete and Alter imply Describe; AlterConfigs
// implies DescribeConfigs.
func implies(granted, op Operation) bool {
	switch {
	case granted == All || granted == op:
		return true
	case op == Describe:
		return granted == Read || granted == Write || granted == Delete || granted == Alter
	case op == DescribeConfigs:
		return granted == AlterConfigs
	}
	return false
}
