package tlsconf

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"

	"github.com/chronik-io/chronik/internal/certgen"
)

func TestParseClientAuth(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want tls.ClientAuthType
		bad  bool
	}{
		{"", tls.NoClientCert, false},
		{"none", tls.NoClientCert, false},
		{"requested", tls.VerifyClientCertIfGiven, false},
		{"required", tls.RequireAndVerifyClientCert, false},
		{"REQUIRED", 0, true},
		{"yes", 0, true},
	} {
		a, err := ParseClientAuth(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && a.tls() != tc.want) {
			t.Errorf("ParseClientAuth(%q) = %v (%v), %v", tc.in, a, a.tls(), err)
		}
	}
}

// A changed file is reloaded; a bad one keeps the previous certificate and
// is not retried until it changes again; the served config follows.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	ca, err := certgen.NewCA("ca")
	if err != nil {
		t.Fatal(err)
	}
	f := Files{CertFile: filepath.Join(dir, "c.pem"), KeyFile: filepath.Join(dir, "c.key")}
	issue := func(serial int64) {
		c, err := ca.Issue(certgen.Options{CommonName: "b", Hosts: []string{"127.0.0.1"}, Serial: serial})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WriteFiles(f.CertFile, f.KeyFile); err != nil {
			t.Fatal(err)
		}
	}
	issue(1)
	r, err := New(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	served := func() int64 {
		cfg, err := r.ServerConfig(ClientAuthNone).GetConfigForClient(nil)
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Certificates[0].Leaf.SerialNumber.Int64()
	}
	if changed, err := r.ReloadIfChanged(); changed || err != nil {
		t.Fatalf("unchanged files: changed %v, err %v", changed, err)
	}
	if err := os.WriteFile(f.KeyFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if changed, err := r.ReloadIfChanged(); !changed || err == nil {
		t.Fatalf("bad key: changed %v, err %v; want a failed reload", changed, err)
	}
	if changed, _ := r.ReloadIfChanged(); changed {
		t.Fatal("a bad version was retried without changing")
	}
	if s := served(); s != 1 {
		t.Fatalf("after a bad reload: serial %d, want 1", s)
	}
	issue(2)
	if changed, err := r.ReloadIfChanged(); !changed || err != nil {
		t.Fatalf("new files: changed %v, err %v", changed, err)
	}
	if s := served(); s != 2 {
		t.Fatalf("after reload: serial %d, want 2", s)
	}
	if _, err := New(Files{CertFile: f.CertFile}, nil); err == nil {
		t.Fatal("New without a key file succeeded")
	}
}
