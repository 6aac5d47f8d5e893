package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
)

func devCommand() *cli.Command {
	return &cli.Command{
		Name:  "dev",
		Usage: "run a local multi-broker cluster (separate processes) for testing applications against failover",
		Description: `Starts --nodes brokers as separate "chronik start" processes on 127.0.0.1,
node i (from 1) with Kafka on --kafka-port+i-1, Raft on --raft-port+i-1, HTTP
on --http-port+i-1 and data in --data-dir/node-i, prints them, and stops them
all on Ctrl-C. Kill one (its pid is printed) to watch the others take over;
restart it with the printed command line. With --tls the Kafka listeners are
SSL://, the certificates are made afresh in --data-dir/tls, and the output
shows how to connect kcat.`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "nodes", Value: 3, Usage: "number of brokers (1-9)"},
			&cli.StringFlag{Name: "data-dir", Value: "./dev-data", Usage: "parent of the brokers' data directories"},
			&cli.IntFlag{Name: "kafka-port", Value: 9092, Usage: "Kafka port of node 1"},
			&cli.IntFlag{Name: "raft-port", Value: 7001, Usage: "Raft port of node 1"},
			&cli.IntFlag{Name: "http-port", Value: 8090, Usage: "HTTP port of node 1"},
			&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "log level of the brokers"},
			&cli.DurationFlag{Name: "leader-balance-cooldown", Value: 10 * time.Second, Usage: "passed to every broker"},
			&cli.BoolFlag{Name: "tls", Usage: "make a throwaway CA and certificates in --data-dir/tls and serve Kafka over SSL (client certificates requested, not required) with Raft over mutual TLS"},
		},
		Action: runDev,
	}
}

// devNode is one broker process of chronik dev.
type devNode struct {
	id                     int
	kafka, raft, http, dir string
	args                   []string
	cmd                    *exec.Cmd
}

func devNodes(c *cli.Context, pki *devPKI) ([]*devNode, error) {
	n := c.Int("nodes")
	if n < 1 || n > 9 {
		return nil, fmt.Errorf("--nodes %d: want 1-9", n)
	}
	var peers []string
	for i := 1; i <= n; i++ {
		peers = append(peers, fmt.Sprintf("%d@127.0.0.1:%d", i, c.Int("raft-port")+i-1))
	}
	var nodes []*devNode
	for i := 1; i <= n; i++ {
		d := &devNode{
			id:    i,
			kafka: fmt.Sprintf("127.0.0.1:%d", c.Int("kafka-port")+i-1),
			raft:  fmt.Sprintf("127.0.0.1:%d", c.Int("raft-port")+i-1),
			http:  fmt.Sprintf("127.0.0.1:%d", c.Int("http-port")+i-1),
			dir:   filepath.Join(c.String("data-dir"), fmt.Sprintf("node-%d", i)),
		}
		listener := d.kafka
		if pki != nil {
			listener = "SSL://" + d.kafka
		}
		d.args = []string{"start", "--node-id", fmt.Sprint(i), "--peers", strings.Join(peers, ","),
			"--kafka-addr", listener, "--raft-addr", d.raft, "--http-addr", d.http, "--data-dir", d.dir,
			"--log-level", c.String("log-level"), "--leader-balance-cooldown", c.Duration("leader-balance-cooldown").String()}
		if pki != nil {
			d.args = append(d.args, "--tls-cert", pki.brokerCert, "--tls-key", pki.brokerKey, "--tls-ca", pki.ca,
				"--tls-client-auth", "requested")
		}
		nodes = append(nodes, d)
	}
	return nodes, nil
}

func runDev(c *cli.Context) error {
	var pki *devPKI
	if c.Bool("tls") {
		var err error
		if pki, err = makeDevPKI(filepath.Join(c.String("data-dir"), "tls")); err != nil {
			return err
		}
	}
	nodes, err := devNodes(c, pki)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the chronik binary: %w", err)
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	exited := make(chan *devNode, len(nodes))
	var wg sync.WaitGroup
	for _, d := range nodes {
		if err := os.MkdirAll(d.dir, 0o755); err != nil {
			stopDev(nodes)
			return fmt.Errorf("create %s: %w", d.dir, err)
		}
		d.cmd = exec.Command(self, d.args...)
		d.cmd.Stdout = os.Stdout
		pr, pw := io.Pipe()
		d.cmd.Stderr = pw
		// Own process group, so Ctrl-C reaches only chronik dev, which then
		// stops the brokers gracefully one by one.
		d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		go prefixLines(pr, fmt.Sprintf("[node %d] ", d.id), c.App.ErrWriter)
		if err := d.cmd.Start(); err != nil {
			stopDev(nodes)
			return fmt.Errorf("start node %d: %w", d.id, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := d.cmd.Wait()
			pw.CloseWithError(io.EOF)
			fmt.Fprintf(c.App.ErrWriter, "[node %d] exited: %v\n", d.id, errOrOK(err))
			exited <- d
		}()
	}
	w := c.App.Writer
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tPID\tKAFKA\tRAFT\tHTTP\tDATA")
	var kafkas, https []string
	for _, d := range nodes {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\n", d.id, d.cmd.Process.Pid, d.kafka, d.raft, d.http, d.dir)
		kafkas = append(kafkas, d.kafka)
		https = append(https, d.http)
	}
	tw.Flush()
	if pki == nil {
		fmt.Fprintf(w, "\nbrokers:  %s\nstatus:   %s cluster status --brokers %s\nrestart a node: %s %s\n\n",
			strings.Join(kafkas, ","), self, strings.Join(kafkas, ","), self, strings.Join(quoteArgs(nodes[0].args), " "))
	} else {
		fmt.Fprintf(w, "\nbrokers (SSL):  %s\nrestart a node: %s %s\n\n%s\n",
			strings.Join(kafkas, ","), self, strings.Join(quoteArgs(nodes[0].args), " "), pki.howTo(strings.Join(kafkas, ",")))
	}

	ctx, cancel := context.WithTimeout(c.Context, 60*time.Second)
	waitHTTPReady(ctx, https)
	cancel()
	fmt.Fprintln(w, "cluster ready; Ctrl-C stops every broker")

	running := len(nodes)
	for running > 0 {
		select {
		case <-sigs:
			fmt.Fprintln(w, "stopping the brokers")
			stopDev(nodes)
			wg.Wait()
			return nil
		case <-exited:
			running--
		}
	}
	return errors.New("every broker exited")
}

func errOrOK(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " \t'\"") {
			a = fmt.Sprintf("%q", a)
		}
		out[i] = a
	}
	return out
}

// stopDev sends SIGTERM to every running broker (each hands its leaderships
// over before it exits).
func stopDev(nodes []*devNode) {
	for _, d := range nodes {
		if d.cmd != nil && d.cmd.Process != nil {
			d.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
}

// waitHTTPReady polls /readyz of every address until all answer 200 or ctx
// ends.
func waitHTTPReady(ctx context.Context, addrs []string) {
	for _, a := range addrs {
		for ctx.Err() == nil {
			if fetchReady(ctx, a) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// prefixLines copies r to w line by line with a prefix.
func prefixLines(r io.Reader, prefix string, w io.Writer) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fmt.Fprintf(w, "%s%s\n", prefix, sc.Text())
	}
}
