package cli

import (
	"slices"
	"strings"
	"testing"
)

// Flags after positional arguments are moved before them, with their
// values, as kafka-topics users type them.
func TestFlagsFirst(t *testing.T) {
	cmds := App().Commands
	for _, tc := range []struct{ in, want string }{
		{"chronik topic create orders --partitions 3", "chronik topic create --partitions 3 orders"},
		{"chronik topic create orders --partitions=3 -r 1 payments", "chronik topic create --partitions=3 -r 1 orders payments"},
		{"chronik topic create --partitions 3 orders", "chronik topic create --partitions 3 orders"},
		{"chronik topic create orders -- --odd", "chronik topic create orders -- --odd"},
		{"chronik group delete g1 g2 --brokers h:9092", "chronik group delete --brokers h:9092 g1 g2"},
		{"chronik topic list", "chronik topic list"},
		{"chronik topic", "chronik topic"},
		{"chronik nosuch a --b c", "chronik nosuch a --b c"},
		{"chronik --help", "chronik --help"},
		{"chronik start --data-dir d", "chronik start --data-dir d"},
	} {
		got := strings.Join(flagsFirst(cmds, strings.Fields(tc.in)), " ")
		if got != tc.want {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A boolean flag takes no value: the argument after it stays positional.
func TestFlagsFirstBool(t *testing.T) {
	cmds := App().Commands
	var boolFlag string
	for _, f := range findCommand(findCommand(cmds, "group").Subcommands, "reset-offsets").Flags {
		if f.Names()[0] == "execute" {
			boolFlag = "--execute"
		}
	}
	if boolFlag == "" {
		t.Fatal("group reset-offsets has no --execute flag")
	}
	got := flagsFirst(cmds, strings.Fields("chronik group reset-offsets --to-earliest --topic t "+boolFlag+" g1"))
	want := strings.Fields("chronik group reset-offsets --to-earliest --topic t " + boolFlag + " g1")
	if !slices.Equal(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
	got = flagsFirst(cmds, strings.Fields("chronik group reset-offsets g1 "+boolFlag+" --topic t"))
	want = strings.Fields("chronik group reset-offsets " + boolFlag + " --topic t g1")
	if !slices.Equal(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
}
