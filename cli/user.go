package cli

// chronik user: SCRAM users over the Kafka protocol
// (AlterUserScramCredentials, DescribeUserScramCredentials), like
// kafka-configs --alter --add-config SCRAM-SHA-512=[...] --entity-type users.

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/urfave/cli/v2"

	"github.com/chronik-io/chronik/internal/scramcred"
)

func userCommand() *cli.Command {
	mechs := &cli.StringFlag{Name: "mechanisms", Value: "SCRAM-SHA-256,SCRAM-SHA-512", Usage: "SCRAM mechanisms, comma separated (PLAIN logins check the SCRAM-SHA-512, else -256, credential)"}
	return &cli.Command{
		Name:  "user",
		Usage: "create, list and delete SASL/SCRAM users (Kafka protocol, like kafka-configs --entity-type users)",
		Subcommands: []*cli.Command{
			{
				Name: "create", Usage: "create a user, or set its password", ArgsUsage: "NAME",
				Flags: append(adminFlags(), mechs,
					&cli.StringFlag{Name: "new-password", Usage: "the user's password (salted on this host; only salted values are sent)", EnvVars: []string{"CHRONIK_NEW_USER_PASSWORD"}},
					&cli.IntFlag{Name: "iterations", Value: scramcred.DefaultIterations, Usage: "SCRAM iterations, 4096 to 16384"},
				),
				Action: runUserCreate,
			},
			{Name: "list", Usage: "list users and their mechanisms", Flags: adminFlags(), Action: runUserList},
			{Name: "delete", Usage: "delete users (every mechanism they have)", ArgsUsage: "NAME...", Flags: adminFlags(), Action: runUserDelete},
		},
	}
}

// UserInfo is one line of chronik user list.
type UserInfo struct {
	User       string         `json:"user"`
	Mechanisms map[string]int `json:"mechanisms"` // mechanism -> iterations
}

func parseMechanisms(s string) ([]kadm.ScramMechanism, error) {
	var out []kadm.ScramMechanism
	for _, m := range splitList(s) {
		t := scramcred.MechanismType(strings.ToUpper(m))
		if t == 0 {
			return nil, fmt.Errorf("--mechanisms: %q is not SCRAM-SHA-256 or SCRAM-SHA-512", m)
		}
		out = append(out, kadm.ScramMechanism(t))
	}
	if len(out) == 0 {
		return nil, errors.New("--mechanisms is empty")
	}
	return out, nil
}

func runUserCreate(c *cli.Context) error {
	if c.NArg() != 1 {
		return errors.New("user create: name exactly one user")
	}
	name, pw := c.Args().First(), c.String("new-password")
	if pw == "" {
		return errors.New("user create: --new-password (or CHRONIK_NEW_USER_PASSWORD) is required")
	}
	mechs, err := parseMechanisms(c.String("mechanisms"))
	if err != nil {
		return err
	}
	it := c.Int("iterations")
	if it < scramcred.MinIterations || it > scramcred.MaxIterations {
		return fmt.Errorf("--iterations %d: must be in [%d, %d]", it, scramcred.MinIterations, scramcred.MaxIterations)
	}
	adm, ctx, done, err := newAdmin(c)
	if err != nil {
		return err
	}
	defer done()
	var ups []kadm.UpsertSCRAM
	for _, m := range mechs {
		ups = append(ups, kadm.UpsertSCRAM{User: name, Mechanism: m, Iterations: int32(it), Password: pw})
	}
	res, err := adm.AlterUserSCRAMs(ctx, nil, ups)
	if err != nil {
		return fmt.Errorf("create user %q: %w", name, err)
	}
	if r := res[name]; r.Err != nil {
		return fmt.Errorf("create user %q: %w: %s", name, r.Err, r.ErrMessage)
	}
	fmt.Fprintf(c.App.Writer, "user %s: %d mechanisms set\n", name, len(mechs))
	return nil
}

func runUserList(c *cli.Context) error {
	adm, ctx, done, err := newAdmin(c)
	if err != nil {
		return err
	}
	defer done()
	ds, err := adm.DescribeUserSCRAMs(ctx)
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	var out []UserInfo
	for _, d := range ds.Sorted() {
		if d.Err != nil {
			return fmt.Errorf("user %q: %w: %s", d.User, d.Err, d.ErrMessage)
		}
		u := UserInfo{User: d.User, Mechanisms: map[string]int{}}
		for _, ci := range d.CredInfos {
			u.Mechanisms[ci.Mechanism.String()] = int(ci.Iterations)
		}
		out = append(out, u)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, out)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tMECHANISMS")
	for _, u := range out {
		var ms []string
		for _, m := range scramcred.Mechanisms {
			if it, ok := u.Mechanisms[m]; ok {
				ms = append(ms, fmt.Sprintf("%s(%d)", m, it))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\n", u.User, strings.Join(ms, ","))
	}
	return tw.Flush()
}

func runUserDelete(c *cli.Context) error {
	if c.NArg() == 0 {
		return errors.New("user delete: name at least one user")
	}
	adm, ctx, done, err := newAdmin(c)
	if err != nil {
		return err
	}
	defer done()
	ds, err := adm.DescribeUserSCRAMs(ctx, c.Args().Slice()...)
	if err != nil {
		return fmt.Errorf("describe users: %w", err)
	}
	var dels []kadm.DeleteSCRAM
	var errs []error
	for _, name := range c.Args().Slice() {
		d := ds[name]
		if d.Err != nil {
			errs = append(errs, fmt.Errorf("user %q: %w", name, d.Err))
			continue
		}
		for _, ci := range d.CredInfos {
			dels = append(dels, kadm.DeleteSCRAM{User: name, Mechanism: ci.Mechanism})
		}
	}
	if len(dels) > 0 {
		res, err := adm.AlterUserSCRAMs(ctx, dels, nil)
		if err != nil {
			return fmt.Errorf("delete users: %w", err)
		}
		for _, r := range res.Sorted() {
			if r.Err != nil {
				errs = append(errs, fmt.Errorf("user %q: %w: %s", r.User, r.Err, r.ErrMessage))
			} else {
				fmt.Fprintf(c.App.Writer, "user %s: deleted\n", r.User)
			}
		}
	}
	return errors.Join(errs...)
}
