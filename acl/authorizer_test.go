package acl

import "testing"

func allow(rt ResourceType, name string, pt PatternType, principal string, op Operation) Binding {
	return Binding{ResourceType: rt, ResourceName: name, PatternType: pt, Principal: principal, Host: "*", Operation: op, Permission: Allow}
}

func deny(rt ResourceType, name string, pt PatternType, principal string, op Operation) Binding {
	b := allow(rt, name, pt, principal, op)
	b.Permission = Deny
	return b
}

func TestAuthorize(t *testing.T) {
	const alice, bob = "User:alice", "User:bob"
	hostOnly := allow(Topic, "h", Literal, alice, Read)
	hostOnly.Host = "10.0.0.1"
	tests := []struct {
		name     string
		bindings []Binding
		cfg      Config
		req      Request
		want     bool
	}{
		{"no acls: deny", nil, Config{}, Request{alice, "1.2.3.4", Read, Topic, "t"}, false},
		{"no acls: allow everyone", nil, Config{AllowEveryoneIfNoACL: true}, Request{alice, "1.2.3.4", Read, Topic, "t"}, true},
		{"acl on another resource: allow everyone", []Binding{allow(Topic, "x", Literal, bob, Read)}, Config{AllowEveryoneIfNoACL: true}, Request{alice, "h", Read, Topic, "t"}, true},
		{"acl of another principal on the resource: deny despite allow everyone", []Binding{allow(Topic, "t", Literal, bob, Read)}, Config{AllowEveryoneIfNoACL: true}, Request{alice, "h", Read, Topic, "t"}, false},
		{"literal allow", []Binding{allow(Topic, "t", Literal, alice, Read)}, Config{}, Request{alice, "h", Read, Topic, "t"}, true},
		{"literal is not a prefix", []Binding{allow(Topic, "t", Literal, alice, Read)}, Config{}, Request{alice, "h", Read, Topic, "tt"}, false},
		{"other operation", []Binding{allow(Topic, "t", Literal, alice, Read)}, Config{}, Request{alice, "h", Write, Topic, "t"}, false},
		{"other resource type", []Binding{allow(Group, "t", Literal, alice, Read)}, Config{}, Request{alice, "h", Read, Topic, "t"}, false},
		{"prefixed allow", []Binding{allow(Topic, "orders-", Prefixed, alice, Write)}, Config{}, Request{alice, "h", Write, Topic, "orders-eu"}, true},
		{"prefixed equal name", []Binding{allow(Topic, "orders-", Prefixed, alice, Write)}, Config{}, Request{alice, "h", Write, Topic, "orders-"}, true},
		{"prefixed no match", []Binding{allow(Topic, "orders-", Prefixed, alice, Write)}, Config{}, Request{alice, "h", Write, Topic, "order"}, false},
		{"wildcard topic", []Binding{allow(Topic, "*", Literal, alice, Read)}, Config{}, Request{alice, "h", Read, Topic, "anything"}, true},
		{"wildcard principal", []Binding{allow(Topic, "t", Literal, "User:*", Read)}, Config{}, Request{bob, "h", Read, Topic, "t"}, true},
		{"host must match", []Binding{hostOnly}, Config{}, Request{alice, "10.0.0.2", Read, Topic, "h"}, false},
		{"host matches", []Binding{hostOnly}, Config{}, Request{alice, "10.0.0.1", Read, Topic, "h"}, true},
		{"deny wins over allow", []Binding{allow(Topic, "t", Literal, alice, Read), deny(Topic, "t", Literal, alice, Read)}, Config{}, Request{alice, "h", Read, Topic, "t"}, false},
		{"prefixed deny wins over literal allow", []Binding{allow(Topic, "secret-x", Literal, alice, Read), deny(Topic, "secret-", Prefixed, alice, Read)}, Config{}, Request{alice, "h", Read, Topic, "secret-x"}, false},
		{"wildcard deny wins", []Binding{allow(Topic, "t", Literal, alice, Read), deny(Topic, "*", Literal, "User:*", All)}, Config{}, Request{alice, "h", Read, Topic, "t"}, false},
		{"deny of another operation", []Binding{allow(Topic, "t", Literal, alice, Read), deny(Topic, "t", Literal, alice, Write)}, Config{}, Request{alice, "h", Read, Topic, "t"}, true},
		{"deny Read does not deny Describe", []Binding{allow(Topic, "t", Literal, alice, Describe), deny(Topic, "t", Literal, alice, Read)}, Config{}, Request{alice, "h", Describe, Topic, "t"}, true},
		{"deny of another principal", []Binding{allow(Topic, "t", Literal, alice, Read), deny(Topic, "t", Literal, bob, Read)}, Config{}, Request{alice, "h", Read, Topic, "t"}, true},
		{"Read implies Describe", []Binding{allow(Topic, "t", Literal, alice, Read)}, Config{}, Request{alice, "h", Describe, Topic, "t"}, true},
		{"Write implies Describe", []Binding{allow(Topic, "t", Literal, alice, Write)}, Config{}, Request{alice, "h", Describe, Topic, "t"}, true},
		{"Delete implies Describe", []Binding{allow(Topic, "t", Literal, alice, Delete)}, Config{}, Request{alice, "h", Describe, Topic, "t"}, true},
		{"Alter implies Describe", []Binding{allow(Topic, "t", Literal, alice, Alter)}, Config{}, Request{alice, "h", Describe, Topic, "t"}, true},
		{"Create does not imply Describe", []Binding{allow(Topic, "t", Literal, alice, Create)}, Config{}, Request{alice, "h", Describe, Topic, "t"}, false},
		{"Describe does not imply Read", []Binding{allow(Topic, "t", Literal, alice, Describe)}, Config{}, Request{alice, "h", Read, Topic, "t"}, false},
		{"AlterConfigs implies DescribeConfigs", []Binding{allow(Topic, "t", Literal, alice, AlterConfigs)}, Config{}, Request{alice, "h", DescribeConfigs, Topic, "t"}, true},
		{"DescribeConfigs does not imply AlterConfigs", []Binding{allow(Topic, "t", Literal, alice, DescribeConfigs)}, Config{}, Request{alice, "h", AlterConfigs, Topic, "t"}, false},
		{"All allows everything", []Binding{allow(Cluster, ClusterName, Literal, alice, All)}, Config{}, Request{alice, "h", IdempotentWrite, Cluster, ClusterName}, true},
		{"super user without acls", nil, Config{SuperUsers: []string{alice}}, Request{alice, "h", Alter, Cluster, ClusterName}, true},
		{"super user despite deny", []Binding{deny(Topic, "*", Literal, "User:*", All)}, Config{SuperUsers: []string{alice}}, Request{alice, "h", Write, Topic, "t"}, true},
		{"not a super user", nil, Config{SuperUsers: []string{alice}}, Request{bob, "h", Read, Topic, "t"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NewAuthorizer(tt.cfg).Authorize(NewIndex(tt.bindings), tt.req)
			if got != tt.want {
				t.Errorf("Authorize(%+v) = %v, want %v", tt.req, got, tt.want)
			}
		})
	}
}

func TestAuthorizeAny(t *testing.T) {
	const alice = "User:alice"
	req := Request{Principal: alice, Host: "h", Operation: Write, ResourceType: Topic}
	tests := []struct {
		name     string
		bindings []Binding
		cfg      Config
		want     bool
	}{
		{"no acls", nil, Config{}, false},
		{"no acls, allow everyone", nil, Config{AllowEveryoneIfNoACL: true}, true},
		{"prefixed allow", []Binding{allow(Topic, "a-", Prefixed, alice, Write)}, Config{}, true},
		{"allow All", []Binding{allow(Topic, "x", Literal, alice, All)}, Config{}, true},
		{"allow Read only", []Binding{allow(Topic, "x", Literal, alice, Read)}, Config{AllowEveryoneIfNoACL: true}, false},
		{"allow then same-pattern deny", []Binding{allow(Topic, "a-", Prefixed, alice, Write), deny(Topic, "a-", Prefixed, alice, Write)}, Config{}, false},
		{"allow then wildcard deny", []Binding{allow(Topic, "x", Literal, alice, Write), deny(Topic, "*", Literal, "User:*", Write)}, Config{}, false},
		{"super user", []Binding{deny(Topic, "*", Literal, "User:*", All)}, Config{SuperUsers: []string{alice}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NewAuthorizer(tt.cfg).AuthorizeAny(NewIndex(tt.bindings), req); got != tt.want {
				t.Errorf("AuthorizeAny = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	ok := allow(Topic, "t", Literal, "User:alice", Read)
	tests := []struct {
		name  string
		edit  func(*Binding)
		valid bool
	}{
		{"valid", func(*Binding) {}, true},
		{"prefixed", func(b *Binding) { b.PatternType = Prefixed }, true},
		{"ipv4 host", func(b *Binding) { b.Host = "10.1.2.3" }, true},
		{"ipv6 host", func(b *Binding) { b.Host = "::1" }, true},
		{"wildcard principal", func(b *Binding) { b.Principal = "User:*" }, true},
		{"cluster", func(b *Binding) { b.ResourceType, b.ResourceName, b.Operation = Cluster, ClusterName, IdempotentWrite }, true},
		{"transactional id", func(b *Binding) { b.ResourceType, b.Operation = TransactionalID, Write }, true},
		{"bad host", func(b *Binding) { b.Host = "example.com" }, false},
		{"bad principal", func(b *Binding) { b.Principal = "alice" }, false},
		{"empty user", func(b *Binding) { b.Principal = "User:" }, false},
		{"group principal", func(b *Binding) { b.Principal = "Group:x" }, false},
		{"empty name", func(b *Binding) { b.ResourceName = "" }, false},
		{"pattern match", func(b *Binding) { b.PatternType = PatternMatch }, false},
		{"pattern any", func(b *Binding) { b.PatternType = PatternAny }, false},
		{"op any", func(b *Binding) { b.Operation = OpAny }, false},
		{"op out of range", func(b *Binding) { b.Operation = 42 }, false},
		{"permission any", func(b *Binding) { b.Permission = PermissionAny }, false},
		{"delegation token", func(b *Binding) { b.ResourceType = DelegationToken }, false},
		{"resource any", func(b *Binding) { b.ResourceType = ResourceAny }, false},
		{"op not for group", func(b *Binding) { b.ResourceType = Group; b.Operation = Write }, false},
		{"cluster name", func(b *Binding) { b.ResourceType, b.Operation = Cluster, Describe }, false},
		{"prefixed wildcard", func(b *Binding) { b.ResourceName, b.PatternType = "*", Prefixed }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := ok
			tt.edit(&b)
			if err := b.Validate(); (err == nil) != tt.valid {
				t.Errorf("Validate(%s) = %v, want valid=%v", b, err, tt.valid)
			}
		})
	}
}

func TestFilterMatches(t *testing.T) {
	s := func(v string) *string { return &v }
	lit := allow(Topic, "orders", Literal, "User:alice", Read)
	pre := allow(Topic, "ord", Prefixed, "User:alice", Read)
	wild := allow(Topic, "*", Literal, "User:bob", Write)
	grp := allow(Group, "orders", Literal, "User:alice", Read)
	all := []Binding{lit, pre, wild, grp}
	tests := []struct {
		name string
		f    Filter
		want []Binding
	}{
		{"any", Filter{ResourceType: ResourceAny, PatternType: PatternAny, Operation: OpAny, Permission: PermissionAny}, all},
		{"topics", Filter{ResourceType: Topic, PatternType: PatternAny, Operation: OpAny, Permission: PermissionAny}, []Binding{lit, pre, wild}},
		{"any pattern, exact name", Filter{ResourceType: Topic, ResourceName: s("orders"), PatternType: PatternAny, Operation: OpAny, Permission: PermissionAny}, []Binding{lit}},
		{"match", Filter{ResourceType: Topic, ResourceName: s("orders"), PatternType: PatternMatch, Operation: OpAny, Permission: PermissionAny}, []Binding{lit, pre, wild}},
		{"prefixed only", Filter{ResourceType: ResourceAny, PatternType: Prefixed, Operation: OpAny, Permission: PermissionAny}, []Binding{pre}},
		{"principal", Filter{ResourceType: ResourceAny, PatternType: PatternAny, Principal: s("User:bob"), Operation: OpAny, Permission: PermissionAny}, []Binding{wild}},
		{"operation", Filter{ResourceType: ResourceAny, PatternType: PatternAny, Operation: Write, Permission: PermissionAny}, []Binding{wild}},
		{"deny only", Filter{ResourceType: ResourceAny, PatternType: PatternAny, Operation: OpAny, Permission: Deny}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.f.Validate(); err != nil {
				t.Fatal(err)
			}
			var got []Binding
			for _, b := range all {
				if tt.f.Matches(b) {
					got = append(got, b)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("matched %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("matched %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]Operation{"read": Read, "IdempotentWrite": IdempotentWrite, "describe-configs": DescribeConfigs, "ALL": All} {
		if got, err := ParseOperation(in); err != nil || got != want {
			t.Errorf("ParseOperation(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseOperation("any"); err == nil {
		t.Error("ParseOperation(any) succeeded")
	}
	if got, err := ParseResourceType("transactional-id"); err != nil || got != TransactionalID {
		t.Errorf("ParseResourceType = %v, %v", got, err)
	}
	if got, err := ParsePatternType("prefixed"); err != nil || got != Prefixed {
		t.Errorf("ParsePatternType = %v, %v", got, err)
	}
}
