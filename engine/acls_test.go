package engine_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/chronik-io/chronik/acl"
	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
)

// CreateACLs, ACLs, ACLIndex and DeleteACLs on one engine: the index
// follows every change, and invalid input is refused with ErrInvalidACL.
func TestEngineACLs(t *testing.T) {
	e := testcluster.New(t, 1).Engine(1)
	ctx := ctxT(t, 20*time.Second)
	allow := acl.Binding{ResourceType: acl.Topic, ResourceName: "t-", PatternType: acl.Prefixed, Principal: "User:a", Host: "*", Operation: acl.Write, Permission: acl.Allow}
	deny := acl.Binding{ResourceType: acl.Topic, ResourceName: "t-x", PatternType: acl.Literal, Principal: "User:a", Host: "*", Operation: acl.Write, Permission: acl.Deny}
	all := acl.Filter{ResourceType: acl.ResourceAny, PatternType: acl.PatternAny, Operation: acl.OpAny, Permission: acl.PermissionAny}
	az := acl.NewAuthorizer(acl.Config{})
	may := func(topic string) bool {
		return az.Authorize(e.ACLIndex(), acl.Request{Principal: "User:a", Host: "10.0.0.1", Operation: acl.Write, ResourceType: acl.Topic, Name: topic})
	}

	if may("t-x") {
		t.Fatal("allowed before any acl")
	}
	if err := e.CreateACLs(ctx, []acl.Binding{allow, deny, allow}); err != nil {
		t.Fatal(err)
	}
	if got := e.ACLs(all); !slices.Equal(got, []acl.Binding{allow, deny}) {
		t.Fatalf("ACLs = %v", got)
	}
	if !may("t-y") || may("t-x") {
		t.Fatalf("t-y allowed %v (want true), t-x allowed %v (want false)", may("t-y"), may("t-x"))
	}
	bad := allow
	bad.Host = "somewhere"
	if err := e.CreateACLs(ctx, []acl.Binding{bad}); !errors.Is(err, engine.ErrInvalidACL) {
		t.Fatalf("invalid binding: %v, want ErrInvalidACL", err)
	}
	if _, err := e.DeleteACLs(ctx, []acl.Filter{{}}); !errors.Is(err, engine.ErrInvalidACL) {
		t.Fatalf("invalid filter: %v, want ErrInvalidACL", err)
	}

	denies := all
	denies.Permission = acl.Deny
	got, err := e.DeleteACLs(ctx, []acl.Filter{denies, all})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !slices.Equal(got[0], []acl.Binding{deny}) || !slices.Equal(got[1], []acl.Binding{allow, deny}) {
		t.Fatalf("DeleteACLs = %v", got)
	}
	if len(e.ACLs(all)) != 0 || may("t-y") {
		t.Fatal("acls left after deleting all")
	}
}
