// Command chronik is the chronik broker, admin tool and load generator.
package main

import (
	"fmt"
	"os"

	"github.com/chronik-io/chronik/cli"
)

func main() {
	if err := cli.App().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "chronik:", err)
		os.Exit(1)
	}
}
