package scramcred

import (
	"bytes"
	"testing"

	"github.com/xdg-go/scram"
)

// The credentials match what xdg-go/scram's client derives (an ASCII
// password, so SASLprep changes nothing), for every mechanism.
func TestMatchesXDG(t *testing.T) {
	cases := []struct {
		mech string
		gen  scram.HashGeneratorFcn
	}{
		{SHA256, scram.SHA256},
		{SHA512, scram.SHA512},
	}
	salt := []byte("0123456789abcdef")
	for _, c := range cases {
		t.Run(c.mech, func(t *testing.T) {
			sp, err := SaltPassword(c.mech, "pencil", salt, 4096)
			if err != nil {
				t.Fatal(err)
			}
			got, err := FromSaltedPassword(c.mech, sp, salt, 4096)
			if err != nil {
				t.Fatal(err)
			}
			cl, err := c.gen.NewClient("user", "pencil", "")
			if err != nil {
				t.Fatal(err)
			}
			want := cl.GetStoredCredentials(scram.KeyFactors{Salt: string(salt), Iters: 4096})
			if !bytes.Equal(got.StoredKey, want.StoredKey) || !bytes.Equal(got.ServerKey, want.ServerKey) {
				t.Fatalf("keys differ from xdg-go's")
			}
			if !Verify(c.mech, "pencil", got) || Verify(c.mech, "pencil2", got) {
				t.Fatal("Verify")
			}
		})
	}
}

func TestFakeIsDeterministic(t *testing.T) {
	a, b := Fake(SHA256, "nobody", []byte("k")), Fake(SHA256, "nobody", []byte("k"))
	if !bytes.Equal(a.Salt, b.Salt) || a.Iterations != DefaultIterations || len(a.Salt) != SaltBytes || len(a.StoredKey) != 32 {
		t.Fatalf("fake credential %+v / %+v", a, b)
	}
	if bytes.Equal(a.Salt, Fake(SHA256, "other", []byte("k")).Salt) || bytes.Equal(a.Salt, Fake(SHA256, "nobody", []byte("k2")).Salt) {
		t.Fatal("fake salt does not depend on the user and the secret")
	}
	if _, err := HashFor("SCRAM-SHA-1"); err == nil {
		t.Fatal("SCRAM-SHA-1 accepted")
	}
}
