package kafka

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AlterUserScramCredentials and DescribeUserScramCredentials through
// kadm, and each error Kafka answers them with.
func TestScramCredentialsAdmin(t *testing.T) {
	t.Parallel() // mostly waiting on its own cluster
	kc := newSASLCluster(t, 1, 0)
	cl := kc.client(t, kgo.SASL(saslMech(MechanismScramSHA512, saslUser, saslPass)))
	adm := kadm.NewClient(cl)
	ctx := testCtx(t, 30*time.Second)

	res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "bob", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "bob-pw"},
		{User: "bob", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: "bob-pw"},
	})
	if err != nil || res.Error() != nil {
		t.Fatalf("upsert bob: %v %v", err, res.Error())
	}
	ds, err := adm.DescribeUserSCRAMs(ctx, "bob")
	if err != nil || ds.Error() != nil {
		t.Fatalf("describe bob: %v %v", err, ds.Error())
	}
	if ci := ds["bob"].CredInfos; len(ci) != 2 || ci[0].Mechanism != kadm.ScramSha256 || ci[0].Iterations != 4096 || ci[1].Iterations != 8192 {
		t.Fatalf("bob: %+v", ci)
	}
	bob := kc.client(t, kgo.SASL(saslMech(MechanismScramSHA256, "bob", "bob-pw")))
	if err := bob.Ping(ctx); err != nil {
		t.Fatalf("bob authenticates: %v", err)
	}
	all, err := adm.DescribeUserSCRAMs(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("describe all: %v %v", all, err)
	}

	// Errors, per user, in one request.
	up := func(name string, mech int8, iters int32) kmsg.AlterUserSCRAMCredentialsRequestUpsertion {
		u := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
		u.Name, u.Mechanism, u.Iterations, u.Salt, u.SaltedPassword = name, mech, iters, []byte("salt"), []byte("salted")
		return u
	}
	del := func(name string, mech int8) kmsg.AlterUserSCRAMCredentialsRequestDeletion {
		d := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
		d.Name, d.Mechanism = name, mech
		return d
	}
	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	req.Deletions = []kmsg.AlterUserSCRAMCredentialsRequestDeletion{del("nobody", 1), del("dup", 1)}
	req.Upsertions = []kmsg.AlterUserSCRAMCredentialsRequestUpsertion{
		up("dup", 1, 4096), up("few", 1, 1000), up("many", 2, 20000), up("mech", 3, 4096), up("", 1, 4096), up("ok", 2, 4096),
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*kerr.Error{
		"nobody": kerr.ResourceNotFound, "dup": kerr.DuplicateResource, "few": kerr.UnacceptableCredential,
		"many": kerr.UnacceptableCredential, "mech": kerr.UnsupportedSaslMechanism, "": kerr.UnacceptableCredential, "ok": nil,
	}
	if len(resp.Results) != len(want) {
		t.Fatalf("%d results, want %d", len(resp.Results), len(want))
	}
	for _, r := range resp.Results {
		var code int16
		if w := want[r.User]; w != nil {
			code = w.Code
		}
		if r.ErrorCode != code || (code != 0 && r.ErrorMessage == nil) {
			t.Errorf("user %q: %v (%v), want %v", r.User, kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage, want[r.User])
		}
	}

	dreq := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	for _, n := range []string{"nobody", "bob", "bob"} {
		u := kmsg.NewDescribeUserSCRAMCredentialsRequestUser()
		u.Name = n
		dreq.Users = append(dreq.Users, u)
	}
	dresp, err := dreq.RequestWith(ctx, cl)
	if err != nil || len(dresp.Results) != 2 {
		t.Fatalf("describe: %v %+v", err, dresp)
	}
	for _, r := range dresp.Results {
		want := map[string]*kerr.Error{"nobody": kerr.ResourceNotFound, "bob": kerr.DuplicateResource}[r.User]
		if got := kerr.ErrorForCode(r.ErrorCode); got != want {
			t.Errorf("describe %q: %v, want %v", r.User, got, want)
		}
	}

	if res, err := adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: "bob", Mechanism: kadm.ScramSha256}}, nil); err != nil || res.Error() != nil {
		t.Fatalf("delete bob's SCRAM-SHA-256: %v %v", err, res.Error())
	}
	if ds, _ := adm.DescribeUserSCRAMs(ctx, "bob"); len(ds["bob"].CredInfos) != 1 || ds["bob"].CredInfos[0].Mechanism != kadm.ScramSha512 {
		t.Fatalf("bob after delete: %+v", ds["bob"])
	}
}

// A user created through broker 1 authenticates on broker 3: credentials
// replicate through __meta.
func TestScramCredentialsReplicate(t *testing.T) {
	t.Parallel() // mostly waiting on its own cluster
	kc := newSASLCluster(t, 3, 0)
	ctx := testCtx(t, 30*time.Second)
	admin := kc.client(t, kgo.SASL(saslMech(MechanismScramSHA256, saslUser, saslPass)))
	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	u := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
	u.Name, u.Mechanism, u.Iterations, u.Salt = "carol", 2, 4096, []byte("carol-salt")
	u.SaltedPassword = saltedForTest(t, MechanismScramSHA512, "carol-pw", u.Salt, 4096)
	req.Upsertions = append(req.Upsertions, u)
	resp, err := req.RequestWith(ctx, admin.Broker(1))
	if err != nil || resp.Results[0].ErrorCode != 0 {
		t.Fatalf("create carol on broker 1: %v %+v", err, resp)
	}
	carol := kc.client(t, kgo.SeedBrokers(kc.addrs[3]), kgo.SASL(saslMech(MechanismScramSHA512, "carol", "carol-pw")))
	for {
		_, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, carol.Broker(3))
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("carol on broker 3: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
