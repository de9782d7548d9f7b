package collections

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	deep := strings.Repeat("/a", MaxDepth)
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"/", "/", true},
		{"/production", "/production", true},
		{"/production/payments/front-end", "/production/payments/front-end", true},
		{"/a.b_c-D9", "/a.b_c-D9", true},
		{"/production/", "/production", true},
		{deep, deep, true},
		{deep + "/a", "", false},
		{"", "", false},
		{"production", "", false},
		{"//a", "", false},
		{"/a//b", "", false},
		{"/a/./b", "", false},
		{"/a/../b", "", false},
		{"/a b", "", false},
		{"/a:b", "", false},
		{"/é", "", false},
		{"/" + strings.Repeat("x", MaxSegmentLen), "/" + strings.Repeat("x", MaxSegmentLen), true},
		{"/" + strings.Repeat("x", MaxSegmentLen+1), "", false},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("Parse(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidPath) {
			t.Errorf("Parse(%q) error %v does not wrap ErrInvalidPath", tt.in, err)
		}
	}
}

func TestHierarchy(t *testing.T) {
	if got := Ancestors("/a/b/c"); !slices.Equal(got, []string{"/a/b/c", "/a/b", "/a", "/"}) {
		t.Errorf("Ancestors = %v", got)
	}
	if got := Ancestors("/"); !slices.Equal(got, []string{"/"}) {
		t.Errorf("Ancestors(/) = %v", got)
	}
	for p, want := range map[string]string{"/": "", "/a": "/", "/a/b": "/a"} {
		if got := Parent(p); got != want {
			t.Errorf("Parent(%q) = %q, want %q", p, got, want)
		}
	}
	for p, want := range map[string]int{"/": 0, "/a": 1, "/a/b/c": 3} {
		if got := Depth(p); got != want {
			t.Errorf("Depth(%q) = %d, want %d", p, got, want)
		}
	}
	if Join("/", "a") != "/a" || Join("/a", "b") != "/a/b" || Name("/a/b") != "b" {
		t.Error("Join/Name disagree with the path layout")
	}
	within := []struct {
		p, base string
		want    bool
	}{
		{"/a/b", "/a", true}, {"/a", "/a", true}, {"/ab", "/a", false}, {"/x", "/", true}, {"/a", "/a/b", false},
	}
	for _, w := range within {
		if got := IsWithin(w.p, w.base); got != w.want {
			t.Errorf("IsWithin(%q, %q) = %v", w.p, w.base, got)
		}
	}
}

func TestLabels(t *testing.T) {
	tests := []struct {
		labels   map[string]string
		creating bool
		want     string
		ok       bool
	}{
		{map[string]string{AccessLabel: "/production/mobile"}, false, "/production/mobile", true},
		{map[string]string{AccessLabel: "awesome_app"}, false, "/Shared/Legacy/awesome_app", true},
		{map[string]string{}, true, "/Shared/Private/alice", true},
		{nil, false, "/", true},
		{map[string]string{AccessLabel: ""}, false, "", false},
		{map[string]string{AccessLabel: "../etc"}, false, "", false},
		{map[string]string{AccessLabel: "a/b"}, false, "/Shared/Legacy/a/b", true},
	}
	for _, tt := range tests {
		got, err := ForResource(tt.labels, tt.creating, PrivateOf("alice"))
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("ForResource(%v, %v) = %q, %v; want %q", tt.labels, tt.creating, got, err, tt.want)
		}
	}
}

func TestBuiltinAndPlacement(t *testing.T) {
	for _, p := range append(Builtin(), PrivateOf("bob")) {
		if !IsBuiltin(p) {
			t.Errorf("%q should be built in", p)
		}
	}
	if IsBuiltin("/production") || IsBuiltin("/Shared/Private/bob/x") {
		t.Error("ordinary collections reported as built in")
	}
	if got := PrivateOf("maria@corp"); got != "/Shared/Private/maria_40corp" {
		t.Errorf("PrivateOf = %q", got)
	}
	if _, err := Parse(PrivateOf("üser")); err != nil {
		t.Errorf("PrivateOf gives an invalid path: %v", err)
	}
	if NodeAllowedIn("/production", false) || !NodeAllowedIn("/production", true) || !NodeAllowedIn("/Shared/x", false) {
		t.Error("node placement rules broken")
	}
	if NodeMovable("/System") || !NodeMovable("/Shared") {
		t.Error("node movability rules broken")
	}
}

// FuzzParse checks that whatever Parse accepts is canonical, stable, within
// the depth limit and made only of allowed characters.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"/", "/a/b", "/a//b", "/../x", "/a/", "/Shared/Legacy/x", "\x00", "/a\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := Parse(in)
		if err != nil {
			return
		}
		again, err := Parse(p)
		if err != nil || again != p {
			t.Fatalf("Parse not idempotent: %q -> %q -> %q, %v", in, p, again, err)
		}
		if Depth(p) > MaxDepth {
			t.Fatalf("depth of %q exceeds limit", p)
		}
		if p != Root && (strings.HasSuffix(p, "/") || strings.Contains(p, "//")) {
			t.Fatalf("non-canonical result %q", p)
		}
		for _, a := range Ancestors(p)[1:] {
			if !IsWithin(p, a) {
				t.Fatalf("%q not within its ancestor %q", p, a)
			}
		}
	})
}
