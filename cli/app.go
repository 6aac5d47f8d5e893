// Package cli holds chronik's command-line interface: flag parsing and wiring
// only. Validation lives in the Config types of the packages it wires, so
// embedders and the CLI get the same errors. main lives in cli/chronik.
package cli

import (
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
