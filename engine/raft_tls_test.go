package engine_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/certgen"
)

// writePKI writes a CA and a broker certificate it signs (SAN 127.0.0.1)
// into dir and returns their files.
func writePKI(t *testing.T, dir, name string) engine.TLSFiles {
	t.Helper()
	ca, err := certgen.NewCA(name)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ca.Issue(certgen.Options{CommonName: "broker", Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	f := engine.TLSFiles{CAFile: filepath.Join(dir, name+"-ca.pem"), CertFile: filepath.Join(dir, name+".pem"), KeyFile: filepath.Join(dir, name+".key")}
	if err := ca.WriteFiles(f.CAFile, ""); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteFiles(f.CertFile, f.KeyFile); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestRaftMutualTLSWrongCA: brokers 1 and 2 share a CA; broker 3's
// certificate comes from another one. 1 and 2 form the cluster over mutual
// TLS; 3 never gets a message through, so it never registers.
func TestRaftMutualTLSWrongCA(t *testing.T) {
	dir := t.TempDir()
	good, bad := writePKI(t, dir, "good"), writePKI(t, dir, "bad")
	peers := map[uint64]string{}
	for i := uint64(1); i <= 3; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		peers[i] = l.Addr().String()
		l.Close()
	}
	engines := map[uint64]*engine.Engine{}
	for i := uint64(1); i <= 3; i++ {
		files := good
		if i == 3 {
			files = bad
		}
		e, err := engine.Open(engine.Config{
			NodeID: i, DataDir: t.TempDir(), RaftAddr: peers[i], Peers: peers, RaftTLS: files,
			RTT: 25 * time.Millisecond, ElectionTicks: 20, HeartbeatTicks: 2, SmallLogDBMemory: true,
		})
		if err != nil {
			t.Fatalf("open engine %d: %v", i, err)
		}
		engines[i] = e
		t.Cleanup(func() { e.Close() })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := uint64(1); i <= 2; i++ {
		if err := engines[i].WaitReady(ctx); err != nil {
			t.Fatalf("engine %d with the right CA: %v", i, err)
		}
	}
	ctx3, cancel3 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel3()
	if err := engines[3].WaitReady(ctx3); err == nil {
		t.Fatal("engine 3, whose certificate another CA signed, joined the cluster")
	}
	for _, b := range engines[1].Metadata().Brokers {
		if b.ID == 3 {
			t.Fatalf("broker 3 registered in __meta: %+v", b)
		}
	}
}

func TestRaftTLSValidate(t *testing.T) {
	for _, tc := range []struct {
		files engine.TLSFiles
		bad   bool
	}{
		{files: engine.TLSFiles{}},
		{files: engine.TLSFiles{CAFile: "ca", CertFile: "c", KeyFile: "k"}},
		{files: engine.TLSFiles{CertFile: "c", KeyFile: "k"}, bad: true},
		{files: engine.TLSFiles{CAFile: "ca"}, bad: true},
	} {
		cfg := engine.DefaultConfig()
		cfg.RaftTLS = tc.files
		err := cfg.Validate()
		if (err != nil) != tc.bad || (err != nil && !strings.Contains(err.Error(), "RaftTLS")) {
			t.Errorf("RaftTLS %+v: Validate() = %v, want error %v", tc.files, err, tc.bad)
		}
	}
}
