package cli

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// benchCommand drives load over the Kafka protocol. (Owned by the bench work.)
func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "Kafka-protocol load generator",
		Action: func(c *cli.Context) error {
			return errors.New("chronik bench: not implemented yet")
		},
	}
}
