package subjects

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestValidUsername(t *testing.T) {
	good := []string{"alice", "a", "maria.rossi", "ALICE_1", "jo-el", "üser", "user@example.com", strings.Repeat("x", 100)}
	for _, n := range good {
		if err := ValidUsername(n); err != nil {
			t.Errorf("ValidUsername(%q) = %v", n, err)
		}
	}
	bad := []string{"", "a b", "a\tb", "a\x00b", "a\nb", strings.Repeat("x", 101), "a*", `a\b`, "a/b",
		"a:b", "a;b", "a|b", "a=b", "a,b", "a+b", "a?b", "a<b", "a>b", "a'b", `a"b`, "a[b", "a]b", "\xff"}
	for _, n := range bad {
		if err := ValidUsername(n); !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidUsername(%q) = %v, want ErrInvalidName", n, err)
		}
	}
}

func TestValidOrgName(t *testing.T) {
	for _, n := range []string{"acme", "a.b_c-D9", "9"} {
		if err := ValidOrgName(n); err != nil {
			t.Errorf("ValidOrgName(%q) = %v", n, err)
		}
	}
	for _, n := range []string{"", ".a", "-a", "a b", "a/b", "é", strings.Repeat("x", 101)} {
		if err := ValidOrgName(n); !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidOrgName(%q) = %v", n, err)
		}
	}
}

func TestParseSubject(t *testing.T) {
	good := map[string]Subject{
		"user:alice":          {Kind: User, Name: "alice"},
		"team:acme/mobile":    {Kind: Team, Name: "acme", Team: "mobile"},
		"org:acme":            {Kind: Org, Name: "acme"},
		"serviceaccount:ci-1": {Kind: ServiceAccount, Name: "ci-1"},
		"authenticated":       {Kind: Authenticated},
		"anonymous":           {Kind: Anonymous},
	}
	for in, want := range good {
		got, err := ParseSubject(in)
		if err != nil || got != want || got.String() != in {
			t.Errorf("ParseSubject(%q) = %+v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "alice", "user:", "user:a b", "team:acme", "team:acme/", "team:/x", "group:x", "org:a/b", "user:*"} {
		if _, err := ParseSubject(in); !errors.Is(err, ErrInvalidSubject) {
			t.Errorf("ParseSubject(%q) = %v", in, err)
		}
	}
}

func TestParseObject(t *testing.T) {
	good := map[string]Object{
		"collection:/production/mobile": {Kind: CollectionObject, Path: "/production/mobile"},
		"collection:/":                  {Kind: CollectionObject, Path: "/"},
		"repository:web/awesome_app":    {Kind: RepositoryObject, Path: "web/awesome_app"},
		"namespace:web":                 {Kind: NamespaceObject, Path: "web"},
	}
	for in, want := range good {
		got, err := ParseObject(in)
		if err != nil || got != want || got.String() != in {
			t.Errorf("ParseObject(%q) = %+v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "/x", "collection:x", "collection:/a//b", "repository:web", "repository:web/Awesome",
		"repository:web/a_", "namespace:a/b", "node:/x"} {
		if _, err := ParseObject(in); !errors.Is(err, ErrInvalidObject) {
			t.Errorf("ParseObject(%q) = %v", in, err)
		}
	}
}

func TestValidRepositoryName(t *testing.T) {
	for _, n := range []string{"a", "awesome_app", "a.b", "a__b", "a-b", "a---b", "a1"} {
		if err := ValidRepositoryName(n); err != nil {
			t.Errorf("ValidRepositoryName(%q) = %v", n, err)
		}
	}
	for _, n := range []string{"", "A", "_a", "a_", "a..b", "a___b", "a/b", "a b"} {
		if err := ValidRepositoryName(n); err == nil {
			t.Errorf("ValidRepositoryName(%q) accepted", n)
		}
	}
}

func FuzzParseSubject(f *testing.F) {
	for _, s := range []string{"user:alice", "team:a/b", "user:*)(uid=*", "org:x\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSubject(in)
		if err != nil {
			return
		}
		if s.String() != in {
			t.Fatalf("round trip %q -> %q", in, s.String())
		}
		if b, _ := s.AppendText(nil); string(b) != in {
			t.Fatalf("%q.AppendText = %q", in, b)
		}
	})
}

// TestPlainUsernameAgreesWithTheRules: the ASCII fast path accepts exactly
// the names the rune-by-rune rules accept, for every ASCII character
// alone, inside a name, and at the length bound.
func TestPlainUsernameAgreesWithTheRules(t *testing.T) {
	slow := func(name string) bool {
		if name == "" || utf8.RuneCountInString(name) > maxNameLen || !utf8.ValidString(name) {
			return false
		}
		for _, r := range name {
			if unicode.IsSpace(r) || !unicode.IsPrint(r) || r < utf8.RuneSelf && strings.ContainsRune(forbiddenInUsername, r) {
				return false
			}
		}
		return true
	}
	names := []string{"", strings.Repeat("a", maxNameLen), strings.Repeat("a", maxNameLen+1), "ann", "é", "a b"}
	for c := range utf8.RuneSelf {
		names = append(names, string(rune(c)), "ann"+string(rune(c))+"x")
	}
	for _, n := range names {
		if plainUsername(n) && !slow(n) {
			t.Errorf("plainUsername(%q) accepts what the rules refuse", n)
		}
		if utf8.ValidString(n) && isASCII(n) && plainUsername(n) != slow(n) {
			t.Errorf("plainUsername(%q) = %v, the rules say %v", n, plainUsername(n), slow(n))
		}
		if (ValidUsername(n) == nil) != slow(n) {
			t.Errorf("ValidUsername(%q) = %v, the rules say %v", n, ValidUsername(n), slow(n))
		}
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
