package registry

import (
	"slices"
	"testing"
)

func TestParseScopeFromBothEnds(t *testing.T) {
	for _, c := range []struct {
		in            string
		typ, name     string
		actions       []string
		wantNamespace string
	}{
		{"repository:acme/app:pull,push", "repository", "acme/app", []string{"pull", "push"}, "acme"},
		{"repository:localhost:5000/acme/app:pull", "repository", "localhost:5000/acme/app", []string{"pull"}, "localhost:5000"},
		{"repository(plugin):acme/plugin:pull", "repository", "acme/plugin", []string{"pull"}, "acme"},
		{"registry:catalog:*", "registry", "catalog", []string{"*"}, ""},
		{"repository:acme/app:", "repository", "acme/app", nil, "acme"},
	} {
		got, err := ParseScope(c.in)
		if err != nil || got.Type != c.typ || got.Name != c.name || !slices.Equal(got.Actions, c.actions) {
			t.Errorf("ParseScope(%q) = %+v, %v", c.in, got, err)
		}
	}
	for _, bad := range []string{"", "repository", "repository:acme", ":acme/app:pull", "repository::pull"} {
		if got, err := ParseScope(bad); err == nil {
			t.Errorf("ParseScope(%q) = %+v, want an error", bad, got)
		}
	}
}

func TestSplitRepository(t *testing.T) {
	for in, ok := range map[string]bool{"acme/app": true, "acme/a/b": true, "app": false, "/app": false, "acme/": false} {
		if _, _, got := splitRepository(in); got != ok {
			t.Errorf("splitRepository(%q) ok = %v", in, got)
		}
	}
}
