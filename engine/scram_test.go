package engine_test

import (
	"errors"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/scramcred"
	"github.com/chronik-io/chronik/internal/testcluster"
)

// SCRAM users are stored salted in __meta: they survive a restart, and a
// bootstrap user is created once.
func TestScramUsersSurviveRestart(t *testing.T) {
	c := testcluster.New(t, 1)
	e := c.Engine(1)
	ctx := ctxT(t, 30*time.Second)
	created, err := e.EnsureScramUser(ctx, "admin", "s3cret")
	if err != nil || !created {
		t.Fatalf("EnsureScramUser: created %v, err %v", created, err)
	}
	if created, err := e.EnsureScramUser(ctx, "admin", "other"); err != nil || created {
		t.Fatalf("EnsureScramUser again: created %v, err %v, want an unchanged user", created, err)
	}
	if err := e.DeleteScramCredential(ctx, "nobody", scramcred.SHA256); !errors.Is(err, engine.ErrUnknownCredential) {
		t.Fatalf("delete unknown: %v, want ErrUnknownCredential", err)
	}
	bad := engine.ScramCredential{Salt: []byte("s"), Iterations: 100, StoredKey: []byte("k"), ServerKey: []byte("k")}
	if err := e.SetScramCredential(ctx, "u", scramcred.SHA256, bad); !errors.Is(err, engine.ErrInvalidCredential) {
		t.Fatalf("100 iterations: %v, want ErrInvalidCredential", err)
	}

	c.Restart(1)
	e = c.Engine(1)
	creds := e.ScramCredentials("admin")
	if len(creds) != 2 {
		t.Fatalf("after restart: %d credentials, want 2", len(creds))
	}
	for mech, cr := range creds {
		if !scramcred.Verify(mech, "s3cret", cr) || scramcred.Verify(mech, "other", cr) {
			t.Fatalf("%s: stored credential does not match the password", mech)
		}
	}
	if got := e.ScramUsers(); len(got) != 1 || got[0] != "admin" {
		t.Fatalf("ScramUsers %v", got)
	}
	if len(e.ScramSecret()) == 0 {
		t.Fatal("no ScramSecret once a user exists")
	}
}
