package kafka

import "testing"

// FuzzSASLTokens feeds arbitrary client tokens to each mechanism's
// exchange, first and second step: never a panic, and nothing
// authenticates without the password.
func FuzzSASLTokens(f *testing.F) {
	for _, seed := range []string{
		"", "\x00", "\x00\x00", "\x00alice\x00pw", "a\x00alice\x00pw", "\x00alice\x00pw\x00extra",
		"n,,n=alice,r=abc", "n,a=bob,n=alice,r=abc", "y,,n=al=2Cice,r=x", "p=tls,,n=a,r=b", "n,,n=,r=",
		"c=biws,r=abc,p=AAAA", "n,,n=alice,r=abc,e=x\x00", string(make([]byte, 300)),
	} {
		f.Add(seed, "c=biws,r=abcdef,p=dGVzdA==")
	}
	s, err := newServer(&stubBackend{}, Config{Logger: discardLogger()})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, first, second string) {
		for _, mech := range DefaultSASLMechanisms {
			ex, err := s.newExchange(mech)
			if err != nil {
				t.Fatal(err)
			}
			_, done, err := ex.step([]byte(first))
			if done {
				t.Fatalf("%s: authenticated from one token %q (no user exists)", mech, first)
			}
			if err != nil {
				continue
			}
			if _, done, _ := ex.step([]byte(second)); done {
				t.Fatalf("%s: authenticated with %q, %q (no user exists)", mech, first, second)
			}
		}
	})
}

func TestParsePlain(t *testing.T) {
	cases := []struct {
		tok     string
		z, u, p string
		wantErr bool
	}{
		{"\x00alice\x00pw", "", "alice", "pw", false},
		{"alice\x00alice\x00pw", "alice", "alice", "pw", false},
		{"\x00alice\x00", "", "", "", true},
		{"\x00\x00pw", "", "", "", true},
		{"alice\x00pw", "", "", "", true},
		{"\x00a\x00b\x00c", "", "", "", true},
	}
	for _, c := range cases {
		z, u, p, err := parsePlain([]byte(c.tok))
		if (err != nil) != c.wantErr || z != c.z || u != c.u || p != c.p {
			t.Errorf("parsePlain(%q) = %q %q %q %v", c.tok, z, u, p, err)
		}
	}
}
