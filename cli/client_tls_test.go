package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/chronik-io/chronik/internal/certgen"
)

// TestClientTLSFlags: the admin commands' TLS flags give a TLS dialer only
// when asked for, and refuse files they cannot use.
func TestClientTLSFlags(t *testing.T) {
	dir := t.TempDir()
	ca, err := certgen.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	caFile, bad := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	client, err := ca.Issue(certgen.Options{CommonName: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "c.key")
	if err := client.WriteFiles(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args    []string
		opts    int
		wantErr string
	}{
		{nil, 0, ""},
		{[]string{"--tls"}, 1, ""},
		{[]string{"--tls-ca", caFile}, 1, ""},
		{[]string{"--tls-ca", caFile, "--tls-cert", certFile, "--tls-key", keyFile}, 1, ""},
		{[]string{"--tls-ca", bad}, 0, "no PEM certificate"},
		{[]string{"--tls-ca", filepath.Join(dir, "missing.pem")}, 0, "--tls-ca"},
		{[]string{"--tls-cert", certFile}, 0, "go together"},
		{[]string{"--tls-cert", certFile, "--tls-key", caFile}, 0, "--tls-cert"},
	} {
		var n int
		var got error
		app := &cli.App{Flags: clientTLSFlags(), Action: func(c *cli.Context) error {
			opts, err := clientTLSOpts(c)
			n, got = len(opts), err
			return nil
		}}
		if err := app.Run(append([]string{"chronik"}, tc.args...)); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		switch {
		case tc.wantErr == "" && (got != nil || n != tc.opts):
			t.Errorf("%v: %d options, %v; want %d", tc.args, n, got, tc.opts)
		case tc.wantErr != "" && (got == nil || !strings.Contains(got.Error(), tc.wantErr)):
			t.Errorf("%v: %v, want an error mentioning %q", tc.args, got, tc.wantErr)
		}
	}
}
