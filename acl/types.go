package acl

import (
	"fmt"
	"strings"
)

// ResourceType is the kind of resource a binding is about. The values are
// Kafka's wire codes (org.apache.kafka.common.resource.ResourceType).
type ResourceType int8

// Resource types. Any is valid only in a Filter.
const (
	ResourceUnknown ResourceType = 0
	ResourceAny     ResourceType = 1
	Topic           ResourceType = 2
	Group           ResourceType = 3
	Cluster         ResourceType = 4
	TransactionalID ResourceType = 5
	// DelegationToken is a Kafka resource type chronik does not support:
	// bindings of it are refused.
	DelegationToken ResourceType = 6
	User            ResourceType = 7
)

// ClusterName is the name of the one Cluster resource, as in Kafka.
const ClusterName = "kafka-cluster"

// PatternType says how a binding's resource name matches resource names.
// The values are Kafka's wire codes (PatternType).
type PatternType int8

// Pattern types. Any and Match are valid only in a Filter: Any matches
// bindings of every pattern type; Match matches the bindings that apply to
// the filter's resource name (literal, wildcard or prefix).
const (
	PatternUnknown PatternType = 0
	PatternAny     PatternType = 1
	PatternMatch   PatternType = 2
	Literal        PatternType = 3
	Prefixed       PatternType = 4
)

// Operation is what a principal does to a resource. The values are Kafka's
// wire codes (AclOperation).
type Operation int8

// Operations. OpAny is valid only in a Filter.
const (
	OpUnknown         Operation = 0
	OpAny             Operation = 1
	All               Operation = 2
	Read              Operation = 3
	Write             Operation = 4
	Create            Operation = 5
	Delete            Operation = 6
	Alter             Operation = 7
	Describe          Operation = 8
	ClusterAction     Operation = 9
	DescribeConfigs   Operation = 10
	AlterConfigs      Operation = 11
	IdempotentWrite   Operation = 12
	CreateTokens      Operation = 13
	DescribeTokens    Operation = 14
	lastOperationCode           = DescribeTokens
)

// Permission is whether a binding allows or denies. The values are Kafka's
// wire codes (AclPermissionType).
type Permission int8

// Permissions. PermissionAny is valid only in a Filter.
const (
	PermissionUnknown Permission = 0
	PermissionAny     Permission = 1
	Deny              Permission = 2
	Allow             Permission = 3
)

// Wildcards: the resource name of a literal binding that applies to every
// resource of its type, the principal that matches every user, and the
// host that matches every address.
const (
	WildcardResource  = "*"
	WildcardPrincipal = "User:*"
	WildcardHost      = "*"
)

var resourceNames = map[ResourceType]string{
	ResourceUnknown: "Unknown", ResourceAny: "Any", Topic: "Topic", Group: "Group",
	Cluster: "Cluster", TransactionalID: "TransactionalId", DelegationToken: "DelegationToken", User: "User",
}

var patternNames = map[PatternType]string{
	PatternUnknown: "UNKNOWN", PatternAny: "ANY", PatternMatch: "MATCH", Literal: "LITERAL", Prefixed: "PREFIXED",
}

var operationNames = map[Operation]string{
	OpUnknown: "Unknown", OpAny: "Any", All: "All", Read: "Read", Write: "Write", Create: "Create",
	Delete: "Delete", Alter: "Alter", Describe: "Describe", ClusterAction: "ClusterAction",
	DescribeConfigs: "DescribeConfigs", AlterConfigs: "AlterConfigs", IdempotentWrite: "IdempotentWrite",
	CreateTokens: "CreateTokens", DescribeTokens: "DescribeTokens",
}

var permissionNames = map[Permission]string{
	PermissionUnknown: "Unknown", PermissionAny: "Any", Deny: "Deny", Allow: "Allow",
}

func name[T ~int8](names map[T]string, v T) string {
	if s, ok := names[v]; ok {
		return s
	}
	return fmt.Sprintf("Unknown(%d)", v)
}

// parse finds s among names, ignoring case, '-' and '_' (so "transactional-id",
// "TransactionalId" and "TRANSACTIONAL_ID" are one name).
func parse[T ~int8](names map[T]string, what, s string) (T, error) {
	norm := func(x string) string {
		return strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(x))
	}
	for v, n := range names {
		if norm(n) == norm(s) && v > 1 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("acl: unknown %s %q", what, s)
}

// String returns Kafka's name of t ("Topic", "TransactionalId").
func (t ResourceType) String() string { return name(resourceNames, t) }

// String returns Kafka's name of p ("LITERAL", "PREFIXED").
func (p PatternType) String() string { return name(patternNames, p) }

// String returns Kafka's name of o ("Read", "IdempotentWrite").
func (o Operation) String() string { return name(operationNames, o) }

// String returns Kafka's name of p ("Allow", "Deny").
func (p Permission) String() string { return name(permissionNames, p) }

// ParseResourceType parses a resource type name, ignoring case, '-' and '_'.
// Unknown and Any are not accepted.
func ParseResourceType(s string) (ResourceType, error) {
	return parse(resourceNames, "resource type", s)
}

// ParsePatternType parses a pattern type name ("literal", "PREFIXED",
// "match"), ignoring case. Unknown and Any are not accepted.
func ParsePatternType(s string) (PatternType, error) { return parse(patternNames, "pattern type", s) }

// ParseOperation parses an operation name ("read", "IdempotentWrite",
// "describe-configs"), ignoring case, '-' and '_'. Unknown and Any are not
// accepted.
func ParseOperation(s string) (Operation, error) { return parse(operationNames, "operation", s) }
