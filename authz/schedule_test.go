package authz

import (
	"context"
	"slices"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
)

// TestSchedulableCollections: an allowed creation says where it may be
// scheduled, walking up from its target or, failing that, at the topmost
// collections where any of the principal's subjects holds node.schedule;
// a denied one says nothing. The compiled state lists, per subject, only
// its own topmost such collections.
func TestSchedulableCollections(t *testing.T) {
	v := scheduleEnv(t)

	// Bootstrap's grant gives every authenticated user the scheduler role
	// on /Shared; ann's private collection lies under it, but under
	// another subject's grant.
	for subject, want := range map[string][2][]string{ // all, subtree
		"team:acme/ops": {{"/a/b", "/c/d/e"}, {"/a/b", "/c/d/e"}},
		"org:acme":      {{"/a"}, {"/a"}},
		"user:ann":      {{"/Shared/Private/ann", "/c"}, {"/Shared/Private/ann", "/c/d"}},
		"authenticated": {{"/Shared"}, {"/Shared"}},
	} {
		for i, part := range []string{"all", "subtree"} {
			if got := compiledSchedule(t, v, subject, part); !slices.Equal(got, want[i]) {
				t.Errorf("sched[%s].%s = %v, want %v", subject, part, got, want[i])
			}
		}
	}

	for _, c := range []struct {
		op, collection string
		options        []string
		allowed        bool
		want           []string
	}{
		// No schedulable collection on /e's chain: the topmost of the
		// union, where /c/d/e (the team's) lies under /c (ann's own).
		{"container.create", "/e", nil, true, []string{"/Shared", "/a", "/c"}},
		{"service.create", "/e", nil, true, []string{"/Shared", "/a", "/c"}},
		// The highest schedulable collection of the chain.
		{"container.create", "/a/b/c", nil, true, []string{"/a"}},
		// ... where an exact grant above the target does not count.
		{"container.create", "/c/d/e", nil, true, []string{"/c/d"}},
		// ... but one at the target does, when nothing above it is
		// schedulable.
		{"container.create", "/c", nil, true, []string{"/c"}},
		// Denied: not created, so nowhere to schedule.
		{"container.create", "/a", nil, false, nil},
		{"container.create", "/e", []string{"rocket"}, false, nil},
		// Not a creation.
		{"container.view", "/e", nil, true, nil},
	} {
		d := v.e.Decide(context.Background(), Request{Subject: subjects.OfUser("ann"), Operation: c.op, Collection: c.collection, Options: c.options})
		if d.Allowed != c.allowed || !slices.Equal(d.Schedulable, c.want) && len(d.Schedulable)+len(c.want) > 0 {
			t.Errorf("%s on %s %v: allowed %v (%s), schedulable %v; want allowed %v, schedulable %v",
				c.op, c.collection, c.options, d.Allowed, d.Code, d.Schedulable, c.allowed, c.want)
		}
	}

	// Revoking the org's grant uncovers the team's /a/b.
	gs, err := v.st.Read().GrantsOfSubject(subjects.OfOrg("acme"))
	if err != nil || len(gs) != 1 {
		t.Fatalf("org grants: %v %v", gs, err)
	}
	v.must(store.DeleteGrant{ID: gs[0].ID})
	if d := v.decide("user:ann", "container.create", "/e"); !slices.Equal(d.Schedulable, []string{"/Shared", "/a/b", "/c"}) {
		t.Errorf("after the org's grant went: %v", d.Schedulable)
	}
}

// compiledSchedule is the sorted paths of the compiled sched[subject] in
// part ("all" or "subtree"): those marked part or "both".
func compiledSchedule(t *testing.T, v *env, subject, part string) []string {
	t.Helper()
	state, _, err := v.e.Data(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	entry, err := state.Find(ast.Ref{ast.StringTerm(tSchedule), ast.StringTerm(subject)})
	if err != nil {
		return nil
	}
	var keys []string
	entry.(ast.Object).Foreach(func(k, v *ast.Term) {
		if kind := string(v.Value.(ast.String)); kind == part || kind == "both" {
			keys = append(keys, string(k.Value.(ast.String)))
		}
	})
	slices.Sort(keys)
	return keys
}

// TestDerivedScheduleTables: the derived tables hs and pt read the same
// however they are addressed (whole, by principal, by principal and
// collection), hold what the scheduling search needs of a principal's
// subjects' sched entries, and equal what stock OPA computes from the
// exported tables and the derived modules.
func TestDerivedScheduleTables(t *testing.T) {
	v := scheduleEnv(t)
	v.must(v.user("bob"), v.user("cy"),
		store.SetTeamMember{Member: store.TeamMember{Org: "acme", Team: "ops", User: "bob"}},
		// cy may schedule under /Shared only (every authenticated user
		// may); bob with the team and the org; one grant on / for nobody.
		v.grant("user:bob", roles.Scheduler, "collection:/", store.ScopeExact))
	read := stateReader(t, v)
	hs, _ := read(tSchedHighest).(ast.Object)
	pt, _ := read(tSchedTop).(ast.Object)
	chains, _ := read(tCollections).(ast.Object)
	if hs == nil || pt == nil || chains == nil {
		t.Fatalf("hs, pt or c read whole is not an object: %v %v %v", hs, pt, chains)
	}
	want := map[string]struct {
		subtree []string // the subjects' sched paths marked "subtree" or "both"
		top     string   // pt[principal]
	}{
		"user:ann": {[]string{"/Shared", "/Shared/Private/ann", "/a", "/a/b", "/c/d", "/c/d/e"}, `["/Shared", "/a", "/c"]`},
		// Exact on /: every collection lies under it, none of its subtree.
		"user:bob": {[]string{"/Shared", "/Shared/Private/bob", "/a", "/a/b", "/c/d/e"}, `["/"]`},
		"user:cy":  {[]string{"/Shared", "/Shared/Private/cy"}, `["/Shared"]`},
	}
	for p, w := range want {
		if got := read(tSchedTop, p); got == nil || ast.Compare(got, ast.MustParseTerm(w.top).Value) != 0 {
			t.Errorf("pt[%s] = %v, want %s", p, got, w.top)
		}
		if e, got := pt.Get(ast.StringTerm(p)), read(tSchedTop, p); e == nil || got == nil || ast.Compare(e.Value, got) != 0 {
			t.Errorf("the whole table's pt[%s] = %v, read alone %v", p, e, got)
		}
		// hs[p][c] for every collection: the highest of its chain (itself
		// first) among the subtree paths.
		entry := read(tSchedHighest, p)
		n := 0
		chains.Foreach(func(c, chain *ast.Term) {
			var highest ast.Value
			chain.Value.(*ast.Array).Foreach(func(a *ast.Term) {
				if slices.Contains(w.subtree, string(a.Value.(ast.String))) {
					highest = a.Value
				}
			})
			got := read(tSchedHighest, p, string(c.Value.(ast.String)))
			if (got == nil) != (highest == nil) || got != nil && ast.Compare(got, highest) != 0 {
				t.Errorf("hs[%s][%s] = %v, want %v", p, c, got, highest)
			}
			var inEntry, inWhole ast.Value
			if e, ok := entry.(ast.Object); ok && e.Get(c) != nil {
				inEntry = e.Get(c).Value
			}
			if e := hs.Get(ast.StringTerm(p)); e != nil && e.Value.(ast.Object).Get(c) != nil {
				inWhole = e.Value.(ast.Object).Get(c).Value
			}
			if ast.Compare(inEntry, got) != 0 || ast.Compare(inWhole, got) != 0 {
				t.Errorf("hs[%s][%s] = %v read alone, %v in the principal's entry, %v in the whole table", p, c, got, inEntry, inWhole)
			}
			if got != nil {
				n++
			}
		})
		if n == 0 {
			t.Errorf("hs[%s] has no entry", p)
		}
	}
	for c, h := range map[string]string{"/a/b/c": "/a", "/c/d/e": "/c/d", "/c": "", "/e": "", "/Shared/Private/ann": "/Shared"} {
		got := read(tSchedHighest, "user:ann", c)
		if h == "" && got != nil || h != "" && (got == nil || ast.Compare(got, ast.String(h)) != 0) {
			t.Errorf("hs[user:ann][%s] = %v, want %q", c, got, h)
		}
	}
	for _, table := range []string{tSchedHighest, tSchedTop} {
		if got := read(table, "user:nobody"); got != nil {
			t.Errorf("%s[user:nobody] = %v", table, got)
		}
		if got := read(table, "team:acme/ops"); got != nil {
			t.Errorf("%s[team:acme/ops] = %v (not a principal)", table, got)
		}
	}
	if got := read(tSchedHighest, "user:ann", "/nope"); got != nil {
		t.Errorf("hs[user:ann][/nope] = %v (no such collection)", got)
	}
	// Read whole, the state holds the same tables, and stock OPA, given
	// the exported data and the derived modules, computes them alike.
	state, _ := read().(ast.Object)
	for table, whole := range map[string]ast.Object{tSchedHighest: hs, tSchedTop: pt} {
		if state == nil || state.Get(ast.StringTerm(table)) == nil || ast.Compare(state.Get(ast.StringTerm(table)).Value, whole) != 0 {
			t.Errorf("data.grantd.state read whole has no %s, or another one than data.grantd.state.%s", table, table)
		}
		if rego := regoDerived(t, v, table); ast.Compare(whole, rego) != 0 {
			t.Errorf("grantd's %s:\n%v\nthe Rego definition's:\n%v", table, whole, rego)
		}
	}
}

// scheduleEnv is a state where ann may schedule through her team, her org
// and grants of her own, subtree and exact.
func scheduleEnv(t *testing.T) *env {
	v := newEnv(t)
	v.must(v.user("ann"),
		store.CreateOrg{Org: store.Org{Name: "acme"}},
		store.CreateTeam{Team: store.Team{Org: "acme", Name: "ops"}},
		store.SetTeamMember{Member: store.TeamMember{Org: "acme", Team: "ops", User: "ann"}})
	for _, p := range []string{"/a", "/a/b", "/a/b/c", "/c", "/c/d", "/c/d/e", "/e"} {
		v.must(store.CreateCollection{Collection: store.Collection{Path: p}})
	}
	// Creates without scheduling (Full Control holds node.schedule), and
	// sees the nodes: holding another node operation at the target does
	// not make it schedulable.
	v.must(v.role("deployer", roles.Permission{Operation: "container.create"}, roles.Permission{Operation: "service.create"},
		roles.Permission{Operation: "container.view"}, roles.Permission{Operation: "node.view"}))
	v.must(
		v.grant("team:acme/ops", roles.Scheduler, "collection:/a/b", store.ScopeSubtree),
		v.grant("team:acme/ops", roles.Scheduler, "collection:/a/b/c", store.ScopeSubtree),
		v.grant("team:acme/ops", roles.Scheduler, "collection:/c/d/e", store.ScopeSubtree),
		v.grant("org:acme", roles.Scheduler, "collection:/a", store.ScopeSubtree),
		v.grant("user:ann", roles.Scheduler, "collection:/c/d", store.ScopeSubtree),
		// Exact: /c itself, not the chain below it.
		v.grant("user:ann", roles.Scheduler, "collection:/c", store.ScopeExact),
		v.grant("user:ann", "deployer", "collection:/c/d/e", store.ScopeSubtree),
		v.grant("user:ann", "deployer", "collection:/e", store.ScopeSubtree),
		v.grant("user:ann", "deployer", "collection:/a/b/c", store.ScopeSubtree),
		v.grant("user:ann", "deployer", "collection:/c", store.ScopeExact))
	return v
}
