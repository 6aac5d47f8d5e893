package acl

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Binding is one access control entry on a resource pattern: Principal,
// connecting from Host, is allowed (or denied) Operation on the resources of
// ResourceType that ResourceName and PatternType match. Kafka calls it an
// AclBinding. The JSON form is what __meta stores: keep the names.
type Binding struct {
	ResourceType ResourceType `json:"rt"`
	// ResourceName is a topic, group or transactional id, or a prefix of
	// them (PatternType Prefixed), or "*" (Literal: every resource of the
	// type), or ClusterName for Cluster.
	ResourceName string      `json:"name"`
	PatternType  PatternType `json:"pattern"`
	// Principal is "User:<name>", or "User:*" for every principal.
	Principal string `json:"principal"`
	// Host is the client's IP address, or "*" for any.
	Host       string     `json:"host"`
	Operation  Operation  `json:"op"`
	Permission Permission `json:"perm"`
}

// String formats b as kafka-acls.sh lists it.
func (b Binding) String() string {
	return fmt.Sprintf("(resourceType=%s, name=%s, patternType=%s, principal=%s, host=%s, operation=%s, permissionType=%s)",
		b.ResourceType, b.ResourceName, b.PatternType, b.Principal, b.Host, b.Operation, b.Permission)
}

// validOperations lists, per resource type, the operations a binding may
// name, as Kafka's AclEntry.supportedOperations.
var validOperations = map[ResourceType][]Operation{
	Topic:           {Read, Write, Create, Describe, Delete, Alter, DescribeConfigs, AlterConfigs, All},
	Group:           {Read, Describe, Delete, All},
	Cluster:         {Create, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite, Alter, Describe, All},
	TransactionalID: {Describe, Write, All},
}

// Validate reports why b cannot be stored, or nil. It accepts what Kafka's
// CreateAcls accepts, except DelegationToken and User resources, which
// chronik does not serve.
func (b Binding) Validate() error {
	var errs []error
	ops, ok := validOperations[b.ResourceType]
	switch {
	case b.ResourceType == DelegationToken || b.ResourceType == User:
		errs = append(errs, fmt.Errorf("resource type %s is not supported", b.ResourceType))
	case !ok:
		errs = append(errs, fmt.Errorf("invalid resource type %s", b.ResourceType))
	}
	if b.PatternType != Literal && b.PatternType != Prefixed {
		errs = append(errs, fmt.Errorf("invalid pattern type %s: want LITERAL or PREFIXED", b.PatternType))
	}
	switch {
	case b.ResourceName == "":
		errs = append(errs, errors.New("empty resource name"))
	case b.ResourceType == Cluster && b.ResourceName != ClusterName:
		errs = append(errs, fmt.Errorf("cluster resource name %q: must be %q", b.ResourceName, ClusterName))
	case b.ResourceType == Cluster && b.PatternType != Literal:
		errs = append(errs, errors.New("cluster resource pattern must be LITERAL"))
	case b.PatternType == Prefixed && b.ResourceName == WildcardResource:
		errs = append(errs, errors.New(`a PREFIXED pattern cannot be "*": use LITERAL "*"`))
	}
	if err := validPrincipal(b.Principal); err != nil {
		errs = append(errs, err)
	}
	if err := validHost(b.Host); err != nil {
		errs = append(errs, err)
	}
	if b.Operation <= OpAny || b.Operation > lastOperationCode {
		errs = append(errs, fmt.Errorf("invalid operation %s", b.Operation))
	} else if ok && !contains(ops, b.Operation) {
		errs = append(errs, fmt.Errorf("operation %s does not apply to resource type %s", b.Operation, b.ResourceType))
	}
	if b.Permission != Allow && b.Permission != Deny {
		errs = append(errs, fmt.Errorf("invalid permission %s: want Allow or Deny", b.Permission))
	}
	if len(errs) > 0 {
		return fmt.Errorf("acl %s: %w", b, errors.Join(errs...))
	}
	return nil
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// validPrincipal accepts "User:<name>" with a non-empty name ("User:*" is the
// wildcard). Kafka accepts other principal types from custom principal
// builders; chronik's authenticators only produce users.
func validPrincipal(p string) error {
	typ, n, ok := strings.Cut(p, ":")
	if !ok || typ != "User" || n == "" {
		return fmt.Errorf("invalid principal %q: want User:<name> or User:*", p)
	}
	return nil
}

// validHost accepts "*" or an IPv4 or IPv6 address.
func validHost(h string) error {
	if h == WildcardHost {
		return nil
	}
	if _, err := netip.ParseAddr(h); err != nil {
		return fmt.Errorf("invalid host %q: want * or an IP address", h)
	}
	return nil
}

// Filter selects bindings, for DescribeAcls and DeleteAcls: a zero-valued
// field of an enum type, a nil string or the Any value matches everything.
type Filter struct {
	ResourceType ResourceType // ResourceAny: every type
	// ResourceName, if not nil, is matched as PatternType says.
	ResourceName *string
	// PatternType: PatternAny matches bindings of every pattern type whose
	// name equals ResourceName; PatternMatch matches the bindings that apply
	// to the resource ResourceName (its literal, the "*" wildcard, and the
	// prefixes of it); Literal and Prefixed only that pattern type.
	PatternType PatternType
	Principal   *string // nil: any
	Host        *string // nil: any
	Operation   Operation
	Permission  Permission
}

// Validate reports why f is not a valid filter, or nil.
func (f Filter) Validate() error {
	var errs []error
	if f.ResourceType == ResourceUnknown || f.ResourceType > User {
		errs = append(errs, fmt.Errorf("invalid resource type %s", f.ResourceType))
	}
	if f.PatternType == PatternUnknown || f.PatternType > Prefixed {
		errs = append(errs, fmt.Errorf("invalid pattern type %s", f.PatternType))
	}
	if f.PatternType == PatternMatch && f.ResourceName == nil {
		errs = append(errs, errors.New("pattern type MATCH needs a resource name"))
	}
	if f.Operation == OpUnknown || f.Operation > lastOperationCode {
		errs = append(errs, fmt.Errorf("invalid operation %s", f.Operation))
	}
	if f.Permission == PermissionUnknown || f.Permission > Allow {
		errs = append(errs, fmt.Errorf("invalid permission %s", f.Permission))
	}
	if len(errs) > 0 {
		return fmt.Errorf("acl filter: %w", errors.Join(errs...))
	}
	return nil
}

// Matches reports whether f selects b.
func (f Filter) Matches(b Binding) bool {
	if f.ResourceType != ResourceAny && f.ResourceType != b.ResourceType {
		return false
	}
	if f.Principal != nil && *f.Principal != b.Principal {
		return false
	}
	if f.Host != nil && *f.Host != b.Host {
		return false
	}
	if f.Operation != OpAny && f.Operation != b.Operation {
		return false
	}
	if f.Permission != PermissionAny && f.Permission != b.Permission {
		return false
	}
	switch f.PatternType {
	case PatternAny:
	case PatternMatch:
		return patternMatches(b.PatternType, b.ResourceName, *f.ResourceName)
	default:
		if f.PatternType != b.PatternType {
			return false
		}
	}
	return f.ResourceName == nil || *f.ResourceName == b.ResourceName
}

// patternMatches reports whether a pattern (pt, pattern) applies to the
// resource called name.
func patternMatches(pt PatternType, pattern, name string) bool {
	switch pt {
	case Literal:
		return pattern == name || pattern == WildcardResource
	case Prefixed:
		return strings.HasPrefix(name, pattern)
	}
	return false
}
