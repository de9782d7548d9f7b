package authz

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/grantd/grantd/internal/randid"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
)

// The preloaded lookups of a whole compile answer what the store's indexes
// answer, in the same order (on the entangled state).
func TestPreloadedReaderAnswersLikeTheStore(t *testing.T) {
	v := newEnv(t)
	users, objects, subjectsOf := v.entangled(t)
	r := v.st.Read()
	p, err := preload(r)
	if err != nil {
		t.Fatal(err)
	}
	same := func(what string, got, gotErr, want, wantErr any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) || gotErr != wantErr {
			t.Errorf("%s: preloaded %v (%v), store %v (%v)", what, got, gotErr, want, wantErr)
		}
	}
	var answered int
	for _, u := range append(users, "nobody") {
		got, gotErr := p.TeamsOfUser(u)
		want, wantErr := r.TeamsOfUser(u)
		same("teams of "+u, got, gotErr, want, wantErr)
		gotOrgs, gotErr := p.OrgsOfUser(u)
		wantOrgs, wantErr := r.OrgsOfUser(u)
		same("orgs of "+u, gotOrgs, gotErr, wantOrgs, wantErr)
		answered += len(want) + len(wantOrgs)
	}
	for _, o := range append(objects, "collection:/Elsewhere") {
		got, gotErr := p.GrantsOnObject(subjects.MustParseObject(o))
		want, wantErr := r.GrantsOnObject(subjects.MustParseObject(o))
		same("grants on "+o, got, gotErr, want, wantErr)
		answered += len(want)
	}
	for _, s := range append(subjectsOf, "user:admin", "team:zeta/ops") {
		got, gotErr := p.GrantsOfSubject(subjects.MustParse(s))
		want, wantErr := r.GrantsOfSubject(subjects.MustParse(s))
		same("grants of "+s, got, gotErr, want, wantErr)
		answered += len(want)
	}
	if answered < 300 {
		t.Errorf("only %d rows compared: the state is too small to tell", answered)
	}
}

// A whole compile lists the entries the grants make from the preloaded
// maps: the same entries affected names for a change of every grant, each
// once (a subject with grants on repositories alone has no schedule
// entry; a Kubernetes service account some grant names is a principal).
func TestGrantKeysAreThoseEveryGrantAffects(t *testing.T) {
	v := newEnv(t)
	v.entangled(t)
	for i, g := range []store.Grant{
		{Subject: subjects.MustParse("k8s-serviceaccount:team-b/ci"), Object: subjects.MustParseObject("namespace:team-b")},
		{Subject: subjects.MustParse("org:zeta"), Object: subjects.MustParseObject("namespace:acme")},
	} {
		g.ID, g.Role, g.Scope = fmt.Sprintf("g-keys-%d", i), "viewonly", store.ScopeSubtree
		v.must(store.CreateGrant{Grant: g})
	}
	p, err := preload(v.st.Read())
	if err != nil {
		t.Fatal(err)
	}
	changes := make([]store.Change, len(p.grants))
	for i, g := range p.grants {
		changes[i] = store.Change{Table: store.TableGrants, After: g}
	}
	want := affected(changes)
	got := map[key]bool{}
	for _, k := range p.grantKeys() {
		if got[k] {
			t.Errorf("%v listed twice", k)
		}
		got[k] = true
	}
	if !maps.Equal(got, want) {
		t.Errorf("grant keys:\n%v\nwant those affected names:\n%v", got, want)
	}
	for _, k := range []key{{tPrincipals, "k8s-serviceaccount:team-b/ci"}, {tRepoGrants, "namespace:team-b"}, {tSchedule, "user:u1"}} {
		if !got[k] {
			t.Errorf("%v missing: the test's state does not have what it checks", k)
		}
	}
	if got[key{tSchedule, "org:zeta"}] {
		t.Errorf("a schedule entry for org:zeta, whose only grant is on a namespace")
	}
}

// A restart restores the raft snapshot. The engine compiles it from the
// snapshot's rows while the store indexes them (Engine.Preview), and ends
// with the very state a compile from the store makes.
func TestPreviewCompilesWhatTheStoreHolds(t *testing.T) {
	dir := t.TempDir()
	v := openEnv(t, dir)
	v.entangled(t)
	if err := v.st.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if err := v.st.Close(); err != nil {
		t.Fatal(err)
	}
	e, err := New(quietLog())
	if err != nil {
		t.Fatal(err)
	}
	var previewed atomic.Bool
	cfg := store.DefaultConfig(dir)
	cfg.Logger = quietLog()
	cfg.Observe = func(*store.ReadTxn, []store.Change) { t.Error("the restore was observed, not previewed") }
	cfg.Preview = func(rows *store.ReadTxn) store.Observer {
		previewed.Store(true)
		return e.Preview(rows)
	}
	st, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !previewed.Load() {
		t.Fatal("the restart did not preview its snapshot")
	}
	want, err := compiler{r: st.Read()}.build(st.Read().Revision())
	if err != nil {
		t.Fatal(err)
	}
	got := e.opa.cur.Load()
	if got.rev != want.rev || got.object().Compare(want.object()) != 0 {
		t.Errorf("previewed state at %d differs from the store's at %d", got.rev, want.rev)
	}
	if n := want.tables[tCollections].Len() + want.tables[tPrincipals].Len(); n < 30 {
		t.Errorf("only %d entries compiled: the state is too small to tell", n)
	}
}

// entangled fills the store with names that extend one another ("acme"
// and "acme2", "dev" and "dev2"), users in many teams and orgs, and grants
// with random IDs. It returns the users, and the objects and subjects of
// the grants.
func (v *env) entangled(t *testing.T) (users, objects, subjectsOf []string) {
	rnd := rand.New(rand.NewPCG(3, 4))
	orgs := []string{"acme", "acme2", "ac", "zeta"}
	teams := []string{"dev", "dev2", "d", "ops"}
	for i := range 30 {
		users = append(users, fmt.Sprintf("u%d", i))
		v.must(v.user(users[i]))
	}
	users = append(users, "admin")
	for _, o := range orgs {
		v.must(store.CreateOrg{Org: store.Org{Name: o}})
		for _, tm := range teams {
			v.must(store.CreateTeam{Team: store.Team{Org: o, Name: tm}})
		}
	}
	for range 200 {
		u, o, tm := users[rnd.IntN(len(users))], orgs[rnd.IntN(len(orgs))], teams[rnd.IntN(len(teams))]
		_ = v.apply(store.SetOrgMember{Member: store.OrgMember{Org: o, User: u}},
			store.SetTeamMember{Member: store.TeamMember{Org: o, Team: tm, User: u}})
	}
	objects = []string{"collection:/", "collection:/Shared", "collection:/Shared/Private/u1", "namespace:acme", "repository:acme/web"}
	subjectsOf = []string{"user:u1", "user:u2", "team:acme/dev", "team:acme2/dev", "org:acme", "org:acme2", "authenticated"}
	for range 120 {
		id, err := randid.New()
		if err != nil {
			t.Fatal(err)
		}
		_ = v.apply(store.CreateGrant{Grant: store.Grant{ID: id, Subject: subjects.MustParse(subjectsOf[rnd.IntN(len(subjectsOf))]),
			Role:   []string{"viewonly", "restrictedcontrol", "fullcontrol"}[rnd.IntN(3)],
			Object: subjects.MustParseObject(objects[rnd.IntN(len(objects))]), Scope: store.ScopeSubtree}})
	}
	return users, objects, subjectsOf
}

// The compiler reads the store's own rows, never copies of them: from a
// store view, newCompiler's reader (and build's) returns one row for two
// reads; any other Reader is read as it is.
func TestCompilerReadsTheStoresRows(t *testing.T) {
	v := newEnv(t)
	view := v.st.Read()
	twice := func(r Reader) (*store.Grant, *store.Grant) {
		a, err1 := r.Grant("g-admin")
		b, err2 := r.Grant("g-admin")
		if err1 != nil || err2 != nil || a == nil {
			t.Fatalf("grant g-admin: %v, %v, %v", a, err1, err2)
		}
		return a, b
	}
	if a, b := twice(view); a == b {
		t.Fatal("a store view returned its row, not a copy: the test cannot tell")
	}
	if a, b := twice(newCompiler(view).r); a != b {
		t.Errorf("the compiler read copies of the store's rows: %p, %p", a, b)
	}
	p := &preloaded{Reader: view}
	if got := readOnly(p); got != Reader(p) {
		t.Errorf("readOnly(%T) = %T, want it unchanged", p, got)
	}
}

// distinct keeps each item's first occurrence, in order, in short lists
// (compared) and long ones (a map), and hands back the list itself when
// nothing repeats.
func TestDistinct(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 8))
	for round := range 500 {
		n := rnd.IntN(40)
		items := make([]string, n)
		for i := range items {
			items[i] = fmt.Sprintf("s%d", rnd.IntN(1+rnd.IntN(60)))
			if round%4 == 0 {
				items[i] = fmt.Sprintf("s%d", i) // no repeats, short and long
			}
		}
		var want []string
		seen := map[string]bool{}
		for _, s := range items {
			if !seen[s] {
				seen[s] = true
				want = append(want, s)
			}
		}
		got := distinct(items)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: distinct(%v) = %v, want %v", round, items, got, want)
		}
		if len(want) == n && n > 0 && &got[0] != &items[0] {
			t.Fatalf("round %d: distinct copied %v, which has no repeats", round, items)
		}
	}
}
