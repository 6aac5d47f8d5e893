package cli

// SASL for the admin commands (topic, cluster, group, user): --user,
// --password and --mechanism authenticate their Kafka client.

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/urfave/cli/v2"
)

// saslClientFlags are the SASL options of the admin commands.
func saslClientFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "user", Usage: "authenticate with SASL as this user (a broker started with --sasl-enabled requires it)", EnvVars: []string{"CHRONIK_SASL_USER"}},
		&cli.StringFlag{Name: "password", Usage: "the --user's password", EnvVars: []string{"CHRONIK_SASL_PASSWORD"}},
		&cli.StringFlag{Name: "mechanism", Value: "SCRAM-SHA-512", Usage: "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", EnvVars: []string{"CHRONIK_SASL_MECHANISM"}},
	}
}

// saslClientOpts returns the kgo options of --user, --password and
// --mechanism: none without --user.
func saslClientOpts(c *cli.Context) ([]kgo.Opt, error) {
	user, pass := c.String("user"), c.String("password")
	if user == "" {
		if pass != "" {
			return nil, fmt.Errorf("--password without --user")
		}
		return nil, nil
	}
	if pass == "" {
		return nil, fmt.Errorf("--user %q: --password (or CHRONIK_SASL_PASSWORD) is required", user)
	}
	switch m := strings.ToUpper(c.String("mechanism")); m {
	case "PLAIN":
		return []kgo.Opt{kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism())}, nil
	case "SCRAM-SHA-256":
		return []kgo.Opt{kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism())}, nil
	case "SCRAM-SHA-512":
		return []kgo.Opt{kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism())}, nil
	default:
		return nil, fmt.Errorf("--mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.String("mechanism"))
	}
}
