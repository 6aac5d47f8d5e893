package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/urfave/cli/v2"

	"github.com/chronik-io/chronik/acl"
)

// aclFlags are the flags of acl add, list and remove, named as
// kafka-acls.sh names them.
func aclFlags() []cli.Flag {
	return append(adminFlags(),
		&cli.StringSliceFlag{Name: "allow-principal", Usage: "principal to allow, User:<name> or User:* (repeatable)"},
		&cli.StringSliceFlag{Name: "deny-principal", Usage: "principal to deny, User:<name> or User:* (repeatable)"},
		&cli.StringSliceFlag{Name: "allow-host", Usage: "IP address the allowed principals connect from (repeatable; add: default *)"},
		&cli.StringSliceFlag{Name: "deny-host", Usage: "IP address the denied principals connect from (repeatable; add: default *)"},
		&cli.StringSliceFlag{Name: "operation", Usage: "Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite or All (repeatable; list and remove: default any)"},
		&cli.StringSliceFlag{Name: "topic", Usage: "topic name, prefix (--resource-pattern-type prefixed) or * (repeatable)"},
		&cli.StringSliceFlag{Name: "group", Usage: "consumer group name, prefix or * (repeatable)"},
		&cli.StringSliceFlag{Name: "transactional-id", Usage: "transactional id, prefix or * (repeatable)"},
		&cli.BoolFlag{Name: "cluster", Usage: "the cluster resource"},
		&cli.StringFlag{Name: "resource-pattern-type", Usage: "literal or prefixed; list and remove also any (the default there) and match (the ACLs that apply to the named resource)"},
	)
}

func aclCommand() *cli.Command {
	return &cli.Command{
		Name:  "acl",
		Usage: "add, list and remove ACLs (Kafka protocol, like kafka-acls)",
		Subcommands: []*cli.Command{
			{Name: "add", Usage: "add ACLs: every principal gets every operation on every resource named", Flags: aclFlags(), Action: runACLAdd},
			{Name: "list", Usage: "list the ACLs the flags match (no flags: all)", Flags: aclFlags(), Action: runACLList},
			{Name: "remove", Usage: "remove the ACLs the flags match", Flags: aclFlags(), Action: runACLRemove},
		},
	}
}

// aclBuilder turns the flags into a kadm.ACLBuilder: for add (create) exact
// bindings, else filters.
func aclBuilder(c *cli.Context, create bool) (*kadm.ACLBuilder, error) {
	b := kadm.NewACLs()
	var errs []error

	pattern := c.String("resource-pattern-type")
	switch {
	case pattern == "" && create:
		pattern = "literal"
	case pattern == "":
		pattern = "any"
	}
	if pt, err := parsePattern(pattern, create); err != nil {
		errs = append(errs, err)
	} else {
		b.ResourcePatternType(pt)
	}

	var ops []kadm.ACLOperation
	for _, s := range c.StringSlice("operation") {
		op, err := acl.ParseOperation(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("--operation: %w", err))
			continue
		}
		ops = append(ops, kadm.ACLOperation(op))
	}
	switch {
	case len(ops) > 0:
		b.Operations(ops...)
	case create:
		errs = append(errs, errors.New("add needs --operation"))
	default:
		b.Operations(kadm.OpAny)
	}

	topics, groups, txns, cluster := c.StringSlice("topic"), c.StringSlice("group"), c.StringSlice("transactional-id"), c.Bool("cluster")
	named := len(topics)+len(groups)+len(txns) > 0 || cluster
	switch {
	case named:
		b.MaybeTopics(topics...).MaybeGroups(groups...).MaybeTransactionalIDs(txns...).MaybeClusters(cluster)
	case create:
		errs = append(errs, errors.New("add needs a resource: --topic, --group, --transactional-id or --cluster"))
	default:
		b.AnyResource()
	}

	allow, deny := c.StringSlice("allow-principal"), c.StringSlice("deny-principal")
	allowHosts, denyHosts := c.StringSlice("allow-host"), c.StringSlice("deny-host")
	switch {
	case len(allow)+len(deny) > 0:
		b.MaybeAllow(allow...).MaybeDeny(deny...)
		if len(allow) > 0 {
			b.AllowHosts(hostsOrWildcard(allowHosts, create)...)
		}
		if len(deny) > 0 {
			b.DenyHosts(hostsOrWildcard(denyHosts, create)...)
		}
	case create:
		errs = append(errs, errors.New("add needs --allow-principal or --deny-principal"))
	default: // every principal, allowed or denied
		b.Allow().AllowHosts(allowHosts...).Deny().DenyHosts(denyHosts...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if create {
		return b, b.ValidateCreate()
	}
	return b, b.ValidateFilter()
}

// hostsOrWildcard is the hosts given; when none, "*" to create (Kafka's
// default) and any host to filter.
func hostsOrWildcard(hosts []string, create bool) []string {
	if len(hosts) == 0 && create {
		return []string{acl.WildcardHost}
	}
	return hosts
}

func parsePattern(s string, create bool) (kadm.ACLPattern, error) {
	if strings.EqualFold(s, "any") && !create {
		return kadm.ACLPatternAny, nil
	}
	pt, err := acl.ParsePatternType(s)
	if err != nil || (create && pt != acl.Literal && pt != acl.Prefixed) {
		return 0, fmt.Errorf("--resource-pattern-type %q: want literal or prefixed (list and remove: also any or match)", s)
	}
	return kadm.ACLPattern(pt), nil
}

func runACLAdd(c *cli.Context) error {
	b, err := aclBuilder(c, true)
	if err != nil {
		return err
	}
	adm, ctx, done, err := newAdmin(c)
	if err != nil {
		return err
	}
	defer done()
	res, err := adm.CreateACLs(ctx, b)
	if err != nil {
		return fmt.Errorf("create acls: %w", err)
	}
	var errs []error
	for _, r := range res {
		line := aclLine(r.Type.String(), r.Name, r.Pattern.String(), r.Principal, r.Host, r.Operation.String(), r.Permission.String())
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w %s", line, r.Err, r.ErrMessage))
			continue
		}
		fmt.Fprintln(c.App.Writer, "added", line)
	}
	return errors.Join(errs...)
}

// ACLListing is one ACL as acl list --json prints it.
type ACLListing struct {
	ResourceType string `json:"resource_type"`
	Name         string `json:"name"`
	PatternType  string `json:"pattern_type"`
	Principal    string `json:"principal"`
	Host         string `json:"host"`
	Operation    string `json:"operation"`
	Permission   string `json:"permission"`
}

func runACLList(c *cli.Context) error {
	b, err := aclBuilder(c, false)
	if err != nil {
		return err
	}
	adm, ctx, done, err := newAdmin(c)
	if err != nil {
		return err
	}
	defer done()
	res, err := adm.DescribeACLs(ctx, b)
	if err != nil {
		return fmt.Errorf("describe acls: %w", err)
	}
	out := []ACLListing{}
	seen := map[ACLListing]bool{} // filters may overlap
	for _, r := range res {
		if r.Err != nil {
			return fmt.Errorf("describe acls: %w %s", r.Err, r.ErrMessage)
		}
		for _, d := range r.Described {
			l := ACLListing{d.Type.String(), d.Name, d.Pattern.String(), d.Principal, d.Host, d.Operation.String(), d.Permission.String()}
			if !seen[l] {
				seen[l] = true
				out = append(out, l)
			}
		}
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, out)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RESOURCE\tNAME\tPATTERN\tPRINCIPAL\tHOST\tOPERATION\tPERMISSION")
	for _, l := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.ResourceType, l.Name, l.PatternType, l.Principal, l.Host, l.Operation, l.Permission)
	}
	return tw.Flush()
}

func runACLRemove(c *cli.Context) error {
	if len(c.StringSlice("topic"))+len(c.StringSlice("group"))+len(c.StringSlice("transactional-id"))+
		len(c.StringSlice("allow-principal"))+len(c.StringSlice("deny-principal")) == 0 && !c.Bool("cluster") {
		return errors.New("remove needs a resource (--topic, --group, --transactional-id, --cluster) or a principal: it will not remove every ACL")
	}
	b, err := aclBuilder(c, false)
	if err != nil {
		return err
	}
	adm, ctx, done, err := newAdmin(c)
	if err != nil {
		return err
	}
	defer done()
	res, err := adm.DeleteACLs(ctx, b)
	if err != nil {
		return fmt.Errorf("delete acls: %w", err)
	}
	var errs []error
	n := 0
	for _, r := range res {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("delete acls: %w %s", r.Err, r.ErrMessage))
			continue
		}
		for _, d := range r.Deleted {
			n++
			fmt.Fprintln(c.App.Writer, "removed", aclLine(d.Type.String(), d.Name, d.Pattern.String(), d.Principal, d.Host, d.Operation.String(), d.Permission.String()))
		}
	}
	if n == 0 && len(errs) == 0 {
		fmt.Fprintln(os.Stderr, "no ACL matched")
	}
	return errors.Join(errs...)
}

func aclLine(rt, name, pattern, principal, host, op, perm string) string {
	return fmt.Sprintf("%s %s %s from host %s on %s %q (%s)", perm, principal, op, host, rt, name, pattern)
}
