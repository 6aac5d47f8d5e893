package cli

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// startCommand runs a broker. (Owned by the Kafka server work.)
func startCommand() *cli.Command {
	return &cli.Command{
		Name:  "start",
		Usage: "run a broker",
		Action: func(c *cli.Context) error {
			return errors.New("chronik start: not implemented yet")
		},
	}
}
