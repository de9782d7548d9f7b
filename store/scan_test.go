package store

import (
	"slices"
	"testing"
)

// Grants by role and users by source are scans (no index): they find
// exactly the matching rows, in id order, a page at a time.
func TestScansWithoutIndex(t *testing.T) {
	s := newStore(t)
	ldapUser := user("lena")
	ldapUser.User.Source = SourceLDAP
	mustApply(t, s, user("maria"), ldapUser, user("paolo"),
		grant("g1", "user:maria", "viewonly", "collection:/Shared"),
		grant("g2", "user:paolo", "fullcontrol", "collection:/Shared"),
		grant("g3", "user:paolo", "viewonly", "collection:/"),
		grant("g4", "user:lena", "viewonly", "collection:/Shared"))
	r := s.Read()
	ids := func(gs []*Grant, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, g := range gs {
			out = append(out, g.ID)
		}
		return out
	}
	for _, c := range []struct {
		after string
		limit int
		want  []string
	}{
		{"", 0, []string{"g1", "g3", "g4"}},
		{"", 2, []string{"g1", "g3"}},
		{"g1", 0, []string{"g3", "g4"}},
		{"g3", 1, []string{"g4"}},
		{"g2", 0, []string{"g3", "g4"}}, // after a grant of another role
		{"g4", 0, nil},
	} {
		if got := ids(r.GrantsOfRole("viewonly", c.after, c.limit)); !slices.Equal(got, c.want) {
			t.Errorf("viewonly grants after %q, limit %d: %v, want %v", c.after, c.limit, got, c.want)
		}
	}
	if got := ids(r.GrantsOfRole("fullcontrol", "", 0)); !slices.Equal(got, []string{"g2"}) {
		t.Errorf("fullcontrol grants: %v", got)
	}
	// The bootstrap's grant of /Shared to every authenticated user.
	if got := ids(r.GrantsOfRole("scheduler", "", 0)); !slices.Equal(got, []string{"g-shared"}) {
		t.Errorf("scheduler grants: %v", got)
	}
	if got := ids(r.GrantsOfRole("nope", "", 0)); len(got) != 0 {
		t.Errorf("grants of a role that does not exist: %v", got)
	}

	ldap, err := r.UsersBySource(SourceLDAP)
	if err != nil || len(ldap) != 1 || ldap[0].Name != "lena" {
		t.Errorf("LDAP users: %v (%v), want lena", ldap, err)
	}
	local, err := r.UsersBySource(SourceLocal)
	var names []string
	for _, u := range local {
		names = append(names, u.Name)
	}
	// admin is the bootstrapped local account.
	if err != nil || !slices.Equal(names, []string{"admin", "maria", "paolo"}) {
		t.Errorf("local users: %v (%v)", names, err)
	}

}
