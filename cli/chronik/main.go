// Command chronik is the chronik broker, admin tool and load generator.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/chronik-io/chronik/cli"
)

func main() {
	if err := cli.Run(os.Args); err != nil {
		msg := err.Error()
		if !strings.HasPrefix(msg, "chronik") {
			msg = "chronik: " + msg
		}
		fmt.Fprintln(os.Stderr, msg)
		os.Exit(1)
	}
}
