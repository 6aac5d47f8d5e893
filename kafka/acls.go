package kafka

// Conversions between the ACL APIs' wire types (29 DescribeAcls, 30
// CreateAcls, 31 DeleteAcls) and package acl. The wire codes of resource
// types, pattern types, operations and permissions are acl's values.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

// wirePattern is a request's pattern type: before v1 there is none, and
// Kafka reads it as LITERAL.
func wirePattern(version int16, pt kmsg.ACLResourcePatternType) acl.PatternType {
	if version < 1 {
		return acl.Literal
	}
	return acl.PatternType(pt)
}

// aclFilter converts a DescribeAcls or DeleteAcls filter.
func aclFilter(version int16, rt kmsg.ACLResourceType, name *string, pt kmsg.ACLResourcePatternType,
	principal, host *string, op kmsg.ACLOperation, perm kmsg.ACLPermissionType,
) acl.Filter {
	return acl.Filter{
		ResourceType: acl.ResourceType(rt), ResourceName: name, PatternType: wirePattern(version, pt),
		Principal: principal, Host: host, Operation: acl.Operation(op), Permission: acl.Permission(perm),
	}
}
