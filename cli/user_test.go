package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chronik-io/chronik/bench"
	"github.com/chronik-io/chronik/kafka"
)

// TestUserCommands runs user create, list and delete against an embedded
// broker that requires SASL, authenticating as its bootstrap user.
func TestUserCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a chronik broker")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := bench.StartEmbedded(ctx, bench.EmbeddedConfig{Nodes: 1, SASL: kafka.SASLConfig{Enabled: true},
		BootstrapUser: "admin", BootstrapPassword: "admin-pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	conn := []string{"--brokers", strings.Join(cl.Brokers(), ","), "--user", "admin", "--password", "admin-pw", "--timeout", "10s"}
	// run runs "user SUB conn-flags args...".
	run := func(sub string, args ...string) string {
		t.Helper()
		out, err := runApp(t, append(append([]string{"user", sub}, conn...), args...)...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return out
	}
	run("create", "--new-password", "bob-pw", "--mechanisms", "SCRAM-SHA-256", "bob")
	var users []UserInfo
	if err := json.Unmarshal([]byte(run("list", "--json")), &users); err != nil || len(users) != 2 ||
		users[1].User != "bob" || users[1].Mechanisms["SCRAM-SHA-256"] != 8192 || len(users[0].Mechanisms) != 2 {
		t.Fatalf("user list: %v %+v", err, users)
	}
	// bob can log in, with PLAIN too (checked against his SCRAM-SHA-256).
	if out, err := runApp(t, "topic", "list", "--brokers", conn[1], "--user", "bob", "--password", "bob-pw", "--mechanism", "PLAIN", "--timeout", "10s"); err != nil {
		t.Fatalf("topic list as bob: %v\n%s", err, out)
	}
	run("delete", "bob")
	if out := run("list"); strings.Contains(out, "bob") {
		t.Fatalf("bob still listed:\n%s", out)
	}
	if _, err := runApp(t, append(append([]string{"user", "delete"}, conn...), "bob")...); err == nil {
		t.Fatal("deleting a missing user succeeded")
	}
	if _, err := runApp(t, "topic", "list", "--brokers", conn[1], "--timeout", "2s"); err == nil {
		t.Fatal("topic list without credentials succeeded")
	}
}
