package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKcatEndToEnd builds the chronik binary, runs `chronik start` on free
// ports with a temporary data dir, and drives it with kcat: metadata (-L),
// produce with every codec (-z), consume back byte for byte (-C -e), then a
// restart and a second full read.
func TestKcatEndToEnd(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kcat is not installed, and CI=true: .ci/run must install it (apt-get install kcat)")
		}
		t.Skip("kcat is not installed (apt-get install kcat); skipping the end-to-end test outside CI")
	}
	bin := buildChronik(t)
	b := &broker{t: t, bin: bin, dir: t.TempDir(), kafka: freeAddr(t), raft: freeAddr(t), http: freeAddr(t)}
	b.start()

	// Metadata.
	out := run(t, nil, kcat, "-b", b.kafka, "-L")
	if !strings.Contains(out, "broker 1 at "+b.kafka) {
		t.Fatalf("kcat -L does not list broker 1 at %s:\n%s", b.kafka, out)
	}

	codecs := []string{"none", "gzip", "snappy", "lz4", "zstd"}
	want := map[string][]string{}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, codec := range codecs {
		topic := "e2e-" + codec
		var in bytes.Buffer
		for i := 0; i < 2000; i++ {
			// key \t value, values of 0 to ~8 KiB with every printable byte.
			n := rng.IntN(64)
			if i%100 == 0 {
				n = 8000
			}
			val := make([]byte, n)
			for j := range val {
				val[j] = byte(' ' + rng.IntN(95))
			}
			line := fmt.Sprintf("k%s-%d\t%s", codec, i, val)
			in.WriteString(line + "\n")
			want[topic] = append(want[topic], line+"\th=v"+codec)
		}
		// The zstd producer is also idempotent (InitProducerID, sequences).
		args := []string{"-b", b.kafka, "-P", "-t", topic, "-z", codec, "-K", "\t", "-H", "h=v" + codec}
		if codec == "zstd" {
			args = append(args, "-X", "enable.idempotence=true")
		}
		run(t, &in, kcat, args...)
		if md := run(t, nil, kcat, "-b", b.kafka, "-L", "-t", topic); !strings.Contains(md, "with 3 partitions") {
			t.Fatalf("topic %s: want 3 auto-created partitions:\n%s", topic, md)
		}
	}
	check := func(phase string) {
		for _, codec := range codecs {
			topic := "e2e-" + codec
			out := run(t, nil, kcat, "-b", b.kafka, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k\t%s\t%h\n")
			got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			slices.Sort(got)
			w := slices.Clone(want[topic])
			slices.Sort(w)
			if !slices.Equal(got, w) {
				t.Fatalf("%s: topic %s: consumed %d records, produced %d, or their bytes differ", phase, topic, len(got), len(w))
			}
		}
	}
	check("first run")

	// While it runs, a second broker on the same ports fails at once with a
	// clear message; so does a bad flag.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"start", "--data-dir", t.TempDir(), "--kafka-addr", b.kafka, "--http-addr", "", "--raft-addr", "127.0.0.1:1", "--peers", "1@127.0.0.1:1"}, "address already in use"},
		{[]string{"start", "--data-dir", t.TempDir(), "--kafka-addr", freeAddr(t), "--http-addr", "", "--raft-addr", b.raft, "--peers", "1@" + b.raft}, "raft listener"},
		{[]string{"start", "--log-format", "yaml"}, "--log-format"},
		{[]string{"start", "--no-such-flag"}, "flag provided but not defined"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, bin, tc.args...).CombinedOutput()
		cancel()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), tc.want) {
			t.Errorf("chronik %v: %v, output:\n%s\nwant exit status 1 and %q", tc.args, err, out, tc.want)
		}
	}

	b.stop()
	b.logFormat = "json" // the second run also covers JSON logs
	b.start()
	if !strings.Contains(b.log.String(), `"msg":"chronik started"`) {
		t.Errorf("--log-format json: no JSON start line in:\n%s", b.log)
	}
	check("after restart")
	b.stop()
}

// broker is one chronik start process.
type broker struct {
	t                 *testing.T
	bin, dir          string
	kafka, raft, http string
	logFormat         string // --log-format; "" = default
	cmd               *exec.Cmd
	log               *bytes.Buffer
	exited            chan error
}

func (b *broker) start() {
	t := b.t
	t.Helper()
	b.log = &bytes.Buffer{}
	b.cmd = exec.Command(b.bin, "start",
		"--data-dir", b.dir, "--kafka-addr", b.kafka, "--raft-addr", b.raft,
		"--peers", "1@"+b.raft, "--http-addr", b.http, "--log-level", "info")
	if b.logFormat != "" {
		b.cmd.Args = append(b.cmd.Args, "--log-format", b.logFormat)
	}
	b.cmd.Stdout, b.cmd.Stderr = b.log, b.log
	// Dies with the test binary (a -timeout panic leaves no orphan).
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b.exited = make(chan error, 1)
	go func(c *exec.Cmd, ch chan error) { ch <- c.Wait() }(b.cmd, b.exited)
	t.Cleanup(func() {
		if b.cmd.ProcessState == nil {
			b.cmd.Process.Kill()
			<-b.exited
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + b.http + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				h, err := http.Get("http://" + b.http + "/healthz")
				if err != nil || h.StatusCode != http.StatusOK {
					t.Fatalf("/healthz: %v %v", err, h)
				}
				h.Body.Close()
				return
			}
		}
		select {
		case err := <-b.exited:
			t.Fatalf("chronik exited before ready: %v\n%s", err, b.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("chronik not ready after 60s\n%s", b.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop sends SIGTERM and expects a clean exit.
func (b *broker) stop() {
	t := b.t
	t.Helper()
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-b.exited:
		if err != nil {
			t.Fatalf("chronik exited with %v after SIGTERM\n%s", err, b.log)
		}
		if !strings.Contains(b.log.String(), "chronik stopped") {
			t.Fatalf("no clean-shutdown line in the log:\n%s", b.log)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("chronik still running 60s after SIGTERM\n%s", b.log)
	}
}

func buildChronik(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "chronik")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/chronik-io/chronik/cli/chronik").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// run runs a command with a 60s limit and returns its stdout.
func run(t *testing.T, stdin *bytes.Buffer, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}
