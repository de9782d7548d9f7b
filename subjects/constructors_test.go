package subjects

import (
	"encoding/json"
	"testing"
)

// The constructors build exactly what ParseSubject and ParseObject read
// back, and the JSON form is the canonical string both ways.
func TestConstructorsRoundTrip(t *testing.T) {
	for _, s := range []Subject{OfUser("maria"), OfServiceAccount("ci"), OfTeam("acme", "web"), OfOrg("acme"), {Kind: Authenticated}} {
		if b, err := s.AppendText([]byte("x")); err != nil || string(b) != "x"+s.String() {
			t.Errorf("%q.AppendText = %q, %v", s, b, err)
		}
		p, err := ParseSubject(s.String())
		if err != nil || p != s {
			t.Errorf("%q parses to %v, %v", s, p, err)
		}
		b, _ := json.Marshal(s)
		var back Subject
		if err := json.Unmarshal(b, &back); err != nil || back != s || string(b) != `"`+s.String()+`"` {
			t.Errorf("%v → %s → %v, %v", s, b, back, err)
		}
	}
	for _, o := range []Object{CollectionOf("/prod/web"), RepositoryOf("acme", "app"), NamespaceOf("acme")} {
		p, err := ParseObject(o.String())
		if err != nil || p != o {
			t.Errorf("%q parses to %v, %v", o, p, err)
		}
		b, _ := json.Marshal(o)
		var back Object
		if err := json.Unmarshal(b, &back); err != nil || back != o {
			t.Errorf("%v → %s → %v, %v", o, b, back, err)
		}
	}
	if p, ok := CollectionOf("/a").CollectionPath(); !ok || p != "/a" {
		t.Errorf("CollectionPath = %q, %v", p, ok)
	}
	if _, ok := NamespaceOf("a").CollectionPath(); ok {
		t.Error("a namespace has no collection path")
	}
}

// The state's JSON is read by shape only, and shapeless strings are refused.
func TestUnmarshalTextShape(t *testing.T) {
	for _, in := range []string{"", "user", "user:", "team:acme", "robot:x", "x"} {
		var s Subject
		if err := s.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("subject %q accepted as %v", in, s)
		}
	}
	for _, in := range []string{"", "collection:", "blob:x", "x"} {
		var o Object
		if err := o.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("object %q accepted as %v", in, o)
		}
	}
}
