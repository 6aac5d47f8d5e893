package kafka

// Authorization: every handler asks s.authorize (or one of its helpers)
// before it acts, with the resource and operation Kafka's KafkaApis uses for
// that API (the table is in docs/SECURITY.md, "Operations per API"), and answers a refusal
// with Kafka's *_AUTHORIZATION_FAILED code in the slot of the refused
// resource. The bindings live in __meta; the engine keeps an index of them
// that s.be.ACLIndex returns without a Raft round trip.

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

// AuthzConfig configures authorization with ACLs.
type AuthzConfig struct {
	// Enabled checks every request against the ACLs stored in __meta.
	// Default false: every request is allowed, and the ACL APIs still
	// store and list bindings (so they can be set up before enabling).
	Enabled bool
	// SuperUsers are principals ("User:admin") never denied (Kafka's
	// super.users). Default none.
	SuperUsers []string
	// AllowEveryoneIfNoACL allows a request on a resource no ACL applies
	// to (Kafka's allow.everyone.if.no.acl.found). Default false. The CLI
	// sets it to true unless authentication (SASL or TLS client
	// certificates) is on, since without authentication every client is
	// User:ANONYMOUS and ACLs could only lock everyone out; see
	// cli/start.go (allowEveryoneDefault).
	AllowEveryoneIfNoACL bool
}

// Validate reports every invalid field.
func (c AuthzConfig) Validate() error {
	var errs []error
	for _, p := range c.SuperUsers {
		if typ, name, ok := strings.Cut(p, ":"); !ok || typ != "User" || name == "" || name == "*" {
			errs = append(errs, fmt.Errorf("SuperUsers: %q is not a principal of the form User:<name>", p))
		}
	}
	return errors.Join(errs...)
}

// Errors of refused requests, for handlers that answer through errorCode.
var (
	errTopicAuthz   = kerrWith(kerr.TopicAuthorizationFailed, errors.New("not authorized to access topic"))
	errClusterAuthz = kerrWith(kerr.ClusterAuthorizationFailed, errors.New("not authorized to access the cluster"))
)

// principalName is the request's principal, AnonymousPrincipal when its
// connection set none.
func (r *request) principalName() string {
	if r.principal == "" {
		return AnonymousPrincipal
	}
	return r.principal
}

// aclRequest is the authorization question for r.
func (r *request) aclRequest(op acl.Operation, rt acl.ResourceType, name string) acl.Request {
	return acl.Request{Principal: r.principalName(), Host: strings.TrimPrefix(r.clientHost, "/"),
		Operation: op, ResourceType: rt, Name: name}
}

// authorize reports whether r's principal may do op on the resource (rt,
// name). Always true when authorization is off.
func (s *Server) authorize(r *request, op acl.Operation, rt acl.ResourceType, name string) bool {
	if !s.cfg.Authz.Enabled {
		return true
	}
	q := r.aclRequest(op, rt, name)
	ok := s.authz.Authorize(s.be.ACLIndex(), q)
	if !ok {
		s.log.Debug("request denied", "principal", q.Principal, "host", q.Host, "operation", op.String(),
			"resource_type", rt.String(), "resource", name, "api", r.key)
	}
	return ok
}

// authorizeCluster is authorize on the cluster resource.
func (s *Server) authorizeCluster(r *request, op acl.Operation) bool {
	return s.authorize(r, op, acl.Cluster, acl.ClusterName)
}

// authorizeAny reports whether r's principal may do op on some resource of
// type rt (acl.Authorizer.AuthorizeAny).
func (s *Server) authorizeAny(r *request, op acl.Operation, rt acl.ResourceType) bool {
	if !s.cfg.Authz.Enabled {
		return true
	}
	return s.authz.AuthorizeAny(s.be.ACLIndex(), r.aclRequest(op, rt, ""))
}

// topicAuthz caches one request's answers for topics: a request names a
// topic once per partition.
type topicAuthz struct {
	s    *Server
	r    *request
	op   acl.Operation
	seen map[string]bool
}

// topicAuthorizer returns a cache of authorize(r, op, Topic, name). A value,
// so a request with authorization off allocates nothing for it.
func (s *Server) topicAuthorizer(r *request, op acl.Operation) topicAuthz {
	return topicAuthz{s: s, r: r, op: op}
}

// ok reports whether the request may do the operation on topic.
func (a *topicAuthz) ok(topic string) bool {
	if !a.s.cfg.Authz.Enabled {
		return true
	}
	if v, hit := a.seen[topic]; hit {
		return v
	}
	if a.seen == nil {
		a.seen = map[string]bool{}
	}
	v := a.s.authorize(a.r, a.op, acl.Topic, topic)
	a.seen[topic] = v
	return v
}

// splitDenied removes from topics those whose name (topic of each) a
// does not allow, and returns them in request order.
func splitDenied[T any](a *topicAuthz, topics *[]T, topic func(T) string) []T {
	var denied []T
	*topics = slices.DeleteFunc(*topics, func(t T) bool {
		if a.ok(topic(t)) {
			return false
		}
		denied = append(denied, t)
		return true
	})
	return denied
}

// mayCreateTopic reports whether r's principal may create topic: Create on
// the cluster or on the topic, as Kafka's CreateTopics and auto-creation
// ask.
func (s *Server) mayCreateTopic(r *request, topic string) bool {
	return s.authorizeCluster(r, acl.Create) || s.authorize(r, acl.Create, acl.Topic, topic)
}

// configAuthz is the refusal of op (DescribeConfigs or AlterConfigs) on a
// config resource, or nil: a topic's configs are the topic's, a broker's
// (and its loggers') are the cluster's, as in Kafka.
func (s *Server) configAuthz(r *request, op acl.Operation, rt kmsg.ConfigResourceType, name string) error {
	switch rt {
	case kmsg.ConfigResourceTypeTopic:
		if !s.authorize(r, op, acl.Topic, name) {
			return errTopicAuthz
		}
	case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeBrokerLogger:
		if !s.authorizeCluster(r, op) {
			return errClusterAuthz
		}
	case kmsg.ConfigResourceTypeGroupConfig:
		if !s.authorize(r, op, acl.Group, name) {
			return kerr.GroupAuthorizationFailed
		}
	}
	return nil
}
