// Package acl holds chronik's access control lists and the authorizer that
// applies them, with Kafka's semantics (kafka.security.authorizer.AclAuthorizer
// and StandardAuthorizer).
//
// # Usage
//
// A Binding grants (Allow) or refuses (Deny) one principal an Operation on
// the resources a pattern names. An Index is an immutable lookup structure
// over a set of bindings; an Authorizer answers requests against an Index:
//
//	ix := acl.NewIndex([]acl.Binding{{
//		ResourceType: acl.Topic, ResourceName: "orders-", PatternType: acl.Prefixed,
//		Principal: "User:alice", Host: "*", Operation: acl.Write, Permission: acl.Allow,
//	}})
//	az := acl.NewAuthorizer(acl.Config{SuperUsers: []string{"User:admin"}})
//	ok := az.Authorize(ix, acl.Request{Principal: "User:alice", Host: "10.0.0.1",
//		Operation: acl.Write, ResourceType: acl.Topic, Name: "orders-eu"}) // true
//
// # Semantics
//
//  1. A super user is allowed everything.
//  2. The bindings that apply to a resource are those of its type whose
//     pattern matches its name: a LITERAL pattern equal to the name, the
//     LITERAL wildcard "*", or a PREFIXED pattern the name starts with.
//  3. If none applies, the request is allowed only with
//     Config.AllowEveryoneIfNoACL (Kafka's allow.everyone.if.no.acl.found).
//  4. A Deny binding of the principal (or "User:*"), the host (or "*") and
//     the operation (or All) refuses the request, whatever else allows it:
//     deny wins.
//  5. Otherwise an Allow binding of the principal, host and operation allows
//     it. Allowing Read, Write, Delete or Alter also allows Describe, and
//     AlterConfigs also allows DescribeConfigs; All allows everything.
//  6. Anything else is refused.
//
// The package imports nothing of chronik's: shards stores bindings in
// __meta, engine serves them, kafka enforces them.
package acl
