package cli

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/chronik-io/chronik/bench"
)

// The authorization flags reach the Kafka server's configuration, and
// --allow-everyone-if-no-acl defaults to true without authentication.
func TestStartAuthzFlags(t *testing.T) {
	for _, tc := range []struct {
		args          []string
		enabled       bool
		super         []string
		allowEveryone bool
		bad           bool
	}{
		{args: nil, allowEveryone: true},
		{args: []string{"--authz-enabled", "--super-users", "User:a, User:b"}, enabled: true, super: []string{"User:a", "User:b"}, allowEveryone: true},
		{args: []string{"--authz-enabled", "--allow-everyone-if-no-acl=false"}, enabled: true},
		{args: []string{"--super-users", "alice"}, bad: true},
	} {
		cmd := startCommand()
		var sc startConfig
		var perr error
		cmd.Action = func(c *cli.Context) error {
			sc, perr = parseStart(c, slog.New(slog.DiscardHandler))
			return nil
		}
		app := &cli.App{Commands: []*cli.Command{cmd}}
		if err := app.Run(append([]string{"chronik", "start", "--data-dir", t.TempDir()}, tc.args...)); err != nil {
			t.Fatalf("start %v: %v", tc.args, err)
		}
		if tc.bad {
			if perr == nil {
				t.Errorf("start %v: no error", tc.args)
			}
			continue
		}
		a := sc.kafka.Authz
		if perr != nil || a.Enabled != tc.enabled || !slices.Equal(a.SuperUsers, tc.super) || a.AllowEveryoneIfNoACL != tc.allowEveryone {
			t.Errorf("start %v: %+v, %v; want enabled %v, super users %v, allow everyone %v", tc.args, a, perr, tc.enabled, tc.super, tc.allowEveryone)
		}
	}
}

// acl add, list and remove against an embedded broker.
func TestACLCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a chronik broker")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := bench.StartEmbedded(ctx, bench.EmbeddedConfig{Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	brokers := strings.Join(cl.Brokers(), ",")

	if _, err := runApp(t, "acl", "add", "--brokers", brokers, "--allow-principal", "User:alice", "--operation", "write",
		"--operation", "describe", "--topic", "orders-", "--resource-pattern-type", "prefixed"); err != nil {
		t.Fatalf("acl add: %v", err)
	}
	if _, err := runApp(t, "acl", "add", "--brokers", brokers, "--deny-principal", "User:*", "--operation", "all", "--group", "secret"); err != nil {
		t.Fatalf("acl add deny: %v", err)
	}
	if _, err := runApp(t, "acl", "add", "--brokers", brokers, "--allow-principal", "alice", "--operation", "read", "--topic", "t"); err == nil {
		t.Fatal("acl add of a principal without User: succeeded")
	}
	if _, err := runApp(t, "acl", "add", "--brokers", brokers, "--allow-principal", "User:a", "--topic", "t"); err == nil {
		t.Fatal("acl add without --operation succeeded")
	}

	list := func(args ...string) []ACLListing {
		t.Helper()
		out, err := runApp(t, append([]string{"acl", "list", "--brokers", brokers, "--json"}, args...)...)
		if err != nil {
			t.Fatalf("acl list %v: %v", args, err)
		}
		var got []ACLListing
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("acl list %v: %v: %s", args, err, out)
		}
		return got
	}
	if got := list(); len(got) != 3 {
		t.Fatalf("acl list: %+v, want 3 acls", got)
	}
	if got := list("--topic", "orders-eu", "--resource-pattern-type", "match"); len(got) != 2 || got[0].Principal != "User:alice" || got[0].PatternType != "PREFIXED" {
		t.Fatalf("acl list matching orders-eu: %+v", got)
	}
	if got := list("--deny-principal", "User:*"); len(got) != 1 || got[0].ResourceType != "GROUP" || got[0].Permission != "DENY" {
		t.Fatalf("acl list of denies: %+v", got)
	}

	if _, err := runApp(t, "acl", "remove", "--brokers", brokers); err == nil {
		t.Fatal("acl remove without a filter succeeded")
	}
	out, err := runApp(t, "acl", "remove", "--brokers", brokers, "--topic", "orders-", "--operation", "write")
	if err != nil || strings.Count(out, "removed") != 1 {
		t.Fatalf("acl remove: %v: %s", err, out)
	}
	if got := list(); len(got) != 2 {
		t.Fatalf("acl list after remove: %+v, want 2 acls", got)
	}
}
