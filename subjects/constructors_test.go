package subjects

import "testing"

// The constructors build exactly the strings ParseSubject and ParseObject
// read back, and Split cuts what the state holds.
func TestConstructorsRoundTrip(t *testing.T) {
	for _, s := range []string{OfUser("maria"), OfServiceAccount("ci"), OfTeam("acme", "web"), OfOrg("acme")} {
		p, err := ParseSubject(s)
		if err != nil || p.String() != s {
			t.Errorf("%q parses to %v, %v", s, p, err)
		}
	}
	for _, s := range []string{CollectionOf("/prod/web"), RepositoryOf("acme", "app"), NamespaceOf("acme")} {
		o, err := ParseObject(s)
		if err != nil || o.String() != s {
			t.Errorf("%q parses to %v, %v", s, o, err)
		}
	}
	for in, want := range map[string]struct {
		k    Kind
		rest string
	}{"user:maria": {User, "maria"}, "team:acme/web": {Team, "acme/web"}, "anonymous": {Anonymous, ""}} {
		if k, rest := Split(in); k != want.k || rest != want.rest {
			t.Errorf("Split(%q) = %q, %q", in, k, rest)
		}
	}
}
