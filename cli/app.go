// Package cli holds chronik's command-line interface: flag parsing and wiring
// only. Validation lives in the Config types of the packages it wires, so
// embedders and the CLI get the same errors. main lives in cli/chronik.
package cli

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// Version is the chronik version, set at build time with -ldflags.
var Version = "dev"

// App returns the chronik command tree.
func App() *cli.App {
	return &cli.App{
		Name:    "chronik",
		Usage:   "a Kafka-compatible streaming broker on Multi-Raft",
		Version: Version,
		Commands: []*cli.Command{
			startCommand(),
			benchCommand(),
			topicCommand(),
			clusterCommand(),
			groupCommand(),
			aclCommand(),
			userCommand(),
			devCommand(),
		},
	}
}

// Run runs the chronik command line in args (os.Args), with flags allowed
// after the positional arguments: `chronik topic create orders
// --partitions 3` means what kafka-topics users expect, where urfave/cli
// alone would stop parsing flags at "orders" and take "--partitions" and
// "3" for two more topic names.
func Run(args []string) error {
	app := App()
	return app.Run(flagsFirst(app.Commands, args))
}

// flagsFirst returns args with the flags of the command they invoke moved
// before its positional arguments, each flag with its value. "--" ends
// the flags: what follows it stays positional.
func flagsFirst(cmds []*cli.Command, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	i := 1
	var cmd *cli.Command
	for i < len(args) {
		next := findCommand(cmds, args[i])
		if next == nil {
			break
		}
		cmd = next
		cmds = next.Subcommands
		out = append(out, args[i])
		i++
	}
	if cmd == nil || len(cmd.Subcommands) > 0 {
		return args // no command, or a command group: urfave/cli reports it
	}
	var flags, positional []string
	for ; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			positional = append(positional, args[i:]...)
			i = len(args)
		case len(a) > 1 && a[0] == '-':
			flags = append(flags, a)
			if !strings.Contains(a, "=") && takesValue(cmd.Flags, strings.TrimLeft(a, "-")) && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		default:
			positional = append(positional, a)
		}
	}
	return append(append(out, flags...), positional...)
}

// findCommand returns the command of cmds named (or aliased) name.
func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.Name == name || slices.Contains(c.Aliases, name) {
			return c
		}
	}
	return nil
}

// takesValue reports whether the flag named name is one of flags and takes
// a value (every kind but a boolean).
func takesValue(flags []cli.Flag, name string) bool {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			_, isBool := f.(*cli.BoolFlag)
			return !isBool
		}
	}
	return false
}
