package authz

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/grantd/grantd/collections"
	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
)

// gen builds random states through real store commands and draws random
// queries against them.
type gen struct {
	rng   *rand.Rand
	v     *env
	users []string
	sas   []string
	orgs  []string
	teams []string // "org/team"
	paths []string
	roles []string
	repos []string // "ns/name"
}

func testSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("GRANTD_TEST_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (set GRANTD_TEST_SEED to replay)", seed)
	return seed
}

func (g *gen) pick(xs []string) string { return xs[g.rng.IntN(len(xs))] }

// kubeNamespaces are the Kubernetes namespaces of the random states: one
// shares its name with an org's registry namespace, as on real platforms.
var kubeNamespaces = []string{"team-a", "team-b", "o0"}

// kubeGroups are the Kubernetes groups teams map and requests carry.
var kubeGroups = []string{"devs", "ops", "oidc:everyone"}

func (g *gen) someGroups() []string {
	var out []string
	for _, k := range append(kubeGroups, "unmapped") {
		if g.chance(0.4) {
			out = append(out, k)
		}
	}
	return out
}

// op picks an operation, spread over the object kinds: Kubernetes has most
// of the catalog, and would crowd out the others if picked uniformly.
func (g *gen) op() roles.Operation {
	kind := roles.Swarm
	switch n := g.rng.IntN(10); {
	case n < 2:
		kind = roles.Repository
	case n < 5:
		kind = roles.Kubernetes
	}
	ids := roles.OperationsOf(kind)
	op, _ := roles.Lookup(g.pick(ids))
	return op
}

func (g *gen) chance(p float64) bool { return g.rng.Float64() < p }

// try applies a command and ignores a refusal: random commands may break
// the store's rules, which is the store's business, not this test's.
func (g *gen) try(c store.Command) bool { return g.v.apply(c) == nil }

func (g *gen) populate() {
	for i := range 4 + g.rng.IntN(14) {
		name := fmt.Sprintf("u%d", i)
		c := g.v.user(name).(store.CreateUser)
		c.User.IsAdmin = g.chance(0.1)
		g.v.must(c)
		g.users = append(g.users, name)
	}
	g.users = append(g.users, "admin")
	for i := range 3 {
		name := fmt.Sprintf("sa%d", i)
		g.v.must(store.CreateServiceAccount{Account: store.ServiceAccount{Name: name, Active: true}})
		g.sas = append(g.sas, name)
	}
	for i := range 1 + g.rng.IntN(4) {
		org := fmt.Sprintf("o%d", i)
		g.v.must(store.CreateOrg{Org: store.Org{Name: org}})
		g.orgs = append(g.orgs, org)
		for j := range 1 + g.rng.IntN(4) {
			team := fmt.Sprintf("t%d", j)
			g.v.must(store.CreateTeam{Team: store.Team{Org: org, Name: team, KubernetesGroups: g.someGroups()}})
			g.teams = append(g.teams, org+"/"+team)
		}
	}
	for range len(g.users) * 2 {
		g.addMembership()
	}
	g.paths = []string{"/", "/System", "/Shared", "/Shared/Private", "/Shared/Legacy"}
	for _, u := range g.users {
		g.paths = append(g.paths, collections.PrivateOf(u))
	}
	for i := range 10 + g.rng.IntN(30) {
		parent := g.pick(g.paths)
		if collections.Depth(parent) >= 7 || parent == collections.Private || collections.Parent(parent) == collections.Private {
			parent = "/"
		}
		p := collections.Join(parent, fmt.Sprintf("c%d", i))
		if g.try(store.CreateCollection{Collection: store.Collection{Path: p}}) {
			g.paths = append(g.paths, p)
		}
	}
	for _, r := range roles.Builtins() {
		g.roles = append(g.roles, r.ID)
	}
	for i := range 1 + g.rng.IntN(4) {
		var perms []roles.Permission
		seen := map[string]bool{}
		for range 1 + g.rng.IntN(12) {
			op := g.op()
			if op.Reserved || seen[op.ID] {
				continue
			}
			seen[op.ID] = true
			var opts []string
			for _, o := range op.Options {
				if g.chance(0.5) {
					opts = append(opts, o)
				}
			}
			perms = append(perms, roles.Permission{Operation: op.ID, Options: opts})
		}
		id := fmt.Sprintf("custom%d", i)
		if g.try(g.v.role(id, perms...)) {
			g.roles = append(g.roles, id)
		}
	}
	owners := append(append([]string{}, g.orgs...), g.users...)
	for i := range 2 + g.rng.IntN(6) {
		ns := g.pick(owners)
		vis := store.VisibilityPrivate
		if g.chance(0.3) {
			vis = store.VisibilityPublic
		}
		name := fmt.Sprintf("repo%d", i)
		if g.try(store.CreateRepository{Repository: store.Repository{Namespace: ns, Name: name, Visibility: vis}}) {
			g.repos = append(g.repos, ns+"/"+name)
		}
	}
	for range 20 + g.rng.IntN(60) {
		g.addGrant()
	}
	for _, u := range g.users {
		if u != "admin" && g.chance(0.1) {
			f := false
			g.v.must(store.UpdateUser{Name: u, Active: &f})
		}
	}
	g.v.must(store.CreateServiceAccount{Account: store.ServiceAccount{Name: "sa-off", Active: false}})
	g.sas = append(g.sas, "sa-off")
}

func (g *gen) addMembership() {
	if len(g.teams) == 0 {
		return
	}
	team := g.pick(g.teams)
	org, name := team[:indexByte(team, '/')], team[indexByte(team, '/')+1:]
	user := g.pick(g.users)
	if g.chance(0.2) {
		g.try(store.SetOrgMember{Member: store.OrgMember{Org: org, User: user, IsAdmin: g.chance(0.5)}})
		return
	}
	g.try(store.SetTeamMember{Member: store.TeamMember{Org: org, Team: name, User: user, IsAdmin: g.chance(0.2)}})
}

func indexByte(s string, b byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return i
		}
	}
	return -1
}

func (g *gen) subject() string {
	switch n := g.rng.IntN(10); {
	case n < 3:
		return "user:" + g.pick(g.users)
	case n < 6 && len(g.teams) > 0:
		return "team:" + g.pick(g.teams)
	case n < 7 && len(g.orgs) > 0:
		return "org:" + g.pick(g.orgs)
	case n < 8:
		return "serviceaccount:" + g.pick(g.sas)
	}
	return "authenticated"
}

func (g *gen) addGrant() {
	role := g.pick(g.roles)
	scope := store.ScopeSubtree
	if g.chance(0.25) {
		scope = store.ScopeExact
	}
	object := "collection:" + g.pick(g.paths)
	subject := g.subject()
	if g.chance(0.3) && len(g.repos) > 0 {
		repo := g.pick(g.repos)
		object = "repository:" + repo
		if g.chance(0.3) {
			object = "namespace:" + repo[:indexByte(repo, '/')]
		}
		role = g.pick([]string{roles.RepoReadOnly, roles.RepoReadWrite, roles.RepoAdmin, role})
	} else if g.chance(0.3) {
		object = "namespace:" + g.pick(append(kubeNamespaces, "*"))
		role = g.pick([]string{roles.ViewOnly, roles.RestrictedControl, roles.FullControl, role})
		if g.chance(0.2) {
			subject = "k8s-serviceaccount:" + g.pick(kubeNamespaces) + "/" + g.pick([]string{"deployer", "ci"})
		}
	}
	g.try(g.v.grant(subject, role, object, scope))
}

// mutate applies random changes of every kind the compiled state follows.
func (g *gen) mutate(n int) {
	r := g.v.st.Read()
	for range n {
		switch g.rng.IntN(10) {
		case 0, 1:
			g.addGrant()
		case 2:
			if all, _ := r.Grants("", 0); len(all) > 0 {
				g.try(store.DeleteGrant{ID: all[g.rng.IntN(len(all))].ID})
			}
		case 3:
			g.addMembership()
		case 4:
			if len(g.teams) > 0 {
				team := g.pick(g.teams)
				g.try(store.RemoveTeamMember{Org: team[:indexByte(team, '/')], Team: team[indexByte(team, '/')+1:], User: g.pick(g.users)})
			}
		case 5:
			u := g.pick(g.users)
			active, admin := g.chance(0.7), g.chance(0.2)
			g.try(store.UpdateUser{Name: u, Active: &active, IsAdmin: &admin})
		case 6:
			g.try(store.DeleteCollection{Path: g.pick(g.paths), Force: true})
		case 7:
			if len(g.repos) > 0 {
				repo := g.pick(g.repos)
				vis := g.pick([]string{store.VisibilityPublic, store.VisibilityPrivate})
				g.try(store.UpdateRepository{Namespace: repo[:indexByte(repo, '/')], Name: repo[indexByte(repo, '/')+1:], Visibility: &vis})
			}
		case 9:
			if len(g.teams) > 0 {
				team := g.pick(g.teams)
				groups := g.someGroups()
				g.try(store.UpdateTeam{Org: team[:indexByte(team, '/')], Name: team[indexByte(team, '/')+1:], KubernetesGroups: &groups})
			}
		case 8:
			if len(g.teams) > 0 && g.chance(0.3) {
				team := g.pick(g.teams)
				g.try(store.DeleteTeam{Org: team[:indexByte(team, '/')], Name: team[indexByte(team, '/')+1:]})
			}
		}
		r = g.v.st.Read()
	}
}

func (g *gen) query() Request {
	var req Request
	switch n := g.rng.IntN(20); {
	case n < 13:
		req.Subject = subjects.OfUser(g.pick(g.users))
	case n < 15:
		req.Subject = subjects.OfServiceAccount(g.pick(g.sas))
	case n < 17:
		req.Subject = subjects.MustParse("anonymous")
	case n < 18:
		req.Subject = subjects.MustParse(g.pick([]string{"user:ghost", "k8s-serviceaccount:team-a/deployer",
			"k8s-serviceaccount:team-b/ci", "k8s-serviceaccount:o0/nobody"}))
	case n < 19:
		req.Subject = subjects.MustParse("team:" + g.pick(append(g.teams, "x/y")))
	default:
		// Subjects no request could name: none, kinds without names,
		// unknown kinds, and a group where a principal belongs.
		req.Subject = []subjects.Subject{{}, {Kind: subjects.User}, {Kind: subjects.Org}, {Kind: "bogus", Name: "x"},
			subjects.AnyAuthenticated}[g.rng.IntN(5)]
	}
	op := g.op()
	req.Operation = op.ID
	if g.chance(0.03) {
		req.Operation = g.pick([]string{"container.fly", "", "repository"})
	}
	wantRepo := op.Object == roles.Repository
	if g.chance(0.1) {
		wantRepo = !wantRepo
	}
	wantKube := op.Object == roles.Kubernetes || op.ID == "container.create" && g.chance(0.5)
	if g.chance(0.05) {
		wantKube = !wantKube
	}
	if wantKube {
		req.Kubernetes = true
		req.Namespace = g.pick(append(kubeNamespaces, "", "elsewhere"))
		if g.chance(0.5) {
			req.Groups = g.someGroups()
		}
	} else if wantRepo {
		switch n := g.rng.IntN(10); {
		case n < 7 && len(g.repos) > 0:
			req.Repository = g.pick(g.repos)
		case n < 9:
			req.Repository = g.pick(append(g.users, g.orgs...)) + "/newrepo"
		default:
			req.Repository = g.pick([]string{"norepo", "a/b/c", "ns/", "/x"})
		}
	} else {
		switch n := g.rng.IntN(10); {
		case n < 6:
			req.Collection = g.pick(g.paths)
		case n < 7:
			req.Collection = g.pick([]string{"/nowhere", "/Shared/x/y", "relative"})
		default:
			req.HasLabels, req.Labels = true, map[string]string{}
			switch g.rng.IntN(4) {
			case 0:
				req.Labels[collections.AccessLabel] = g.pick(g.paths)
			case 1:
				req.Labels[collections.AccessLabel] = g.pick([]string{"app", "c1", ""})
			case 2:
				req.Labels["other"] = "x"
			}
		}
	}
	if len(op.Options) > 0 && g.chance(0.4) {
		for range 1 + g.rng.IntN(2) {
			req.Options = append(req.Options, g.pick(op.Options))
		}
	}
	if g.chance(0.03) {
		req.Options = append(req.Options, "warp_drive")
	}
	if (op.ID == "service.create" || op.ID == "service.update") && g.chance(0.5) {
		for range 1 + g.rng.IntN(2) {
			req.Secrets = append(req.Secrets, g.pick(g.paths))
		}
	}
	return req
}

// TestDifferential compares the engine with the reference evaluator on
// random states, through random mutations, on thousands of random queries,
// and checks that the incrementally compiled state equals a full rebuild.
func TestDifferential(t *testing.T) {
	seed := testSeed(t)
	rounds, queries := 8, 500
	if testing.Short() {
		rounds = 3
	}
	total, allowed := 0, 0
	defer func(most int) { maxChainRecompute, chainRefresh = most, true }(maxChainRecompute)
	for round := range rounds {
		// Every other round, a write recomputes no collection's chain
		// entry below the one it changed, and leaves a stale root there,
		// which nothing refreshes: decisions below it read the tables.
		maxChainRecompute, chainRefresh = 512, true
		if round%2 == 1 {
			maxChainRecompute, chainRefresh = 0, false
		}
		v := newEnv(t)
		g := &gen{rng: rand.New(rand.NewPCG(seed, uint64(round))), v: v}
		g.populate()
		refreshNow(t, v)
		for phase := range 3 {
			r := v.st.Read()
			for range queries {
				req := g.query()
				got := v.e.Decide(context.Background(), req)
				want := referenceDecide(r, req)
				total++
				if got.Allowed {
					allowed++
				}
				if got.Allowed != want {
					t.Fatalf("round %d phase %d: %+v\nengine: allowed=%v code=%s (%s)\nreference: allowed=%v",
						round, phase, req, got.Allowed, got.Code, got.Reason, want)
				}
				if got.Code == "internal_error" {
					t.Fatalf("internal error on %+v: %s", req, got.Reason)
				}
			}
			assertCompiledMatchesRebuild(t, v)
			g.mutate(40)
		}
	}
	t.Logf("%d random decisions agreed with the reference (%d allowed)", total, allowed)
	if allowed < total/20 || allowed > total*19/20 {
		t.Fatalf("queries are too one-sided to test anything: %d of %d allowed", allowed, total)
	}
}

// assertCompiledMatchesRebuild checks incremental compilation against a
// compilation from scratch of the same store state.
func assertCompiledMatchesRebuild(t *testing.T, v *env) {
	t.Helper()
	got, rev, err := v.e.Data(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r := v.st.Read()
	if rev != r.Revision() {
		t.Fatalf("compiled revision %d, store revision %d", rev, r.Revision())
	}
	built, err := compiler{r: r}.build(r.Revision())
	if err != nil {
		t.Fatal(err)
	}
	want := built.object()
	if got.Compare(want) != 0 {
		for _, table := range allTables {
			a := got.(ast.Object).Get(str(table))
			b := want.Get(str(table))
			if a.Value.Compare(b.Value) != 0 {
				t.Fatalf("compiled table %s differs from a rebuild:\nincremental %v\nrebuild     %v", table, a, b)
			}
		}
		t.Fatal("compiled state differs from a rebuild")
	}
	assertPrincipals(t, v.e.opa.cur.Load(), built)
	assertTableIndexes(t, v.e.opa.cur.Load())
	assertChainIndex(t, v.e.opa.cur.Load())
}

// assertTableIndexes checks each table's hash index against its B+tree:
// the same number of entries, each found by name as that very term.
func assertTableIndexes(t *testing.T, s *snapshot) {
	t.Helper()
	for name, tb := range s.tables {
		if tb.byName.Len() != tb.entries.Len() {
			t.Fatalf("table %s: %d entries indexed, %d in the tree", name, tb.byName.Len(), tb.entries.Len())
		}
		for it := tb.Iterator(); !it.Done(); {
			k, v, _ := it.Next()
			if got, ok := tb.Get(k); !ok || got != v {
				t.Fatalf("table %s: the index has %v for %s, the tree %v", name, got, k, v)
			}
		}
	}
}

// assertPrincipals checks the snapshot's principals (principalEntry): the
// same entries as a rebuild's, each with its subjects' keys sorted and
// their terms, where it has them, beside them.
func assertPrincipals(t *testing.T, s, built *snapshot) {
	t.Helper()
	if s.tables[tPrincipals].Len() != built.tables[tPrincipals].Len() {
		t.Fatalf("p has %d entries, a rebuild's %d", s.tables[tPrincipals].Len(), built.tables[tPrincipals].Len())
	}
	for it := s.tables[tPrincipals].Iterator(); !it.Done(); {
		name, entry, _ := it.Next()
		got := principalOf(entry)
		want, _ := built.tables[tPrincipals].Get(name)
		if got == nil || principalOf(want) == nil || !got.equal(principalOf(want)) {
			t.Fatalf("the entry of %s: %v, a rebuild's %v", name, entry, want)
		}
		if len(got.keys) != len(got.subjects) || !slices.IsSortedFunc(got.keys, func(a, b subjectKey) int { return strings.Compare(a.name, b.name) }) {
			t.Fatalf("the entry of %s: subjects %v, keys %v", name, got.subjects, got.keys)
		}
		for i, k := range got.keys {
			if k != keyOf(k.name) || got.subjects[i] != nil && stringOf(got.subjects[i]) != k.name {
				t.Fatalf("the entry of %s: key %d is %v for the subject %v", name, i, k, got.subjects[i])
			}
		}
	}
}

// assertChainIndex checks the snapshot's chain index (chainMaps): an entry
// for each collection of c and no other, holding the very terms of its
// chain's gs entries, of its ge and of c, as the tables have them, and
// their grant maps in order; below a stale root, nothing.
func assertChainIndex(t *testing.T, s *snapshot) {
	t.Helper()
	cols := s.tables[tCollections]
	for _, p := range s.chains.pages {
		for _, b := range p {
			for _, slot := range b {
				if _, ok := cols.Get(slot.name); !ok && !underStale(s.stale, slot.name) {
					t.Fatalf("the chain index has %s, which c has not", slot.name)
				}
			}
		}
	}
	for it := cols.Iterator(); !it.Done(); {
		path, col, _ := it.Next()
		if underStale(s.stale, path) {
			continue
		}
		cm, _ := s.chains.Get(path)
		if cm == nil || cm.col != col {
			t.Fatalf("the chain index of %s: %+v, c has %v", path, cm, col)
		}
		chain := col.Value.(*ast.Array)
		var want []*grantMap
		if len(cm.subtree) != chain.Len() {
			t.Fatalf("the chain index of %s has %d subtree entries for a chain of %d", path, len(cm.subtree), chain.Len())
		}
		for i := range chain.Len() {
			gs, _ := s.tables[tSubtree].Get(stringOf(chain.Elem(i)))
			if cm.subtree[i] != gs {
				t.Fatalf("the chain index of %s has %v for gs[%v], the table %v", path, cm.subtree[i], chain.Elem(i), gs)
			}
			if gs != nil {
				want = append(want, gs.Value.(*grantMap))
			}
		}
		ge, _ := s.tables[tExact].Get(path)
		if cm.exact != ge {
			t.Fatalf("the chain index of %s has %v for ge, the table %v", path, cm.exact, ge)
		}
		if ge != nil {
			want = append(want, ge.Value.(*grantMap))
		}
		if !slices.Equal(cm.maps, want) {
			t.Fatalf("the chain index of %s has the maps %v, the tables %v", path, cm.maps, want)
		}
	}
}

// TestDifferentialLeavesStaleRoots: the odd rounds of TestDifferential
// test what they mean to, decisions below stale roots: with no entry
// recomputed below a change, a subtree grant on a collection with
// collections below it leaves a stale root.
func TestDifferentialLeavesStaleRoots(t *testing.T) {
	defer func(most int) { maxChainRecompute, chainRefresh = most, true }(maxChainRecompute)
	maxChainRecompute, chainRefresh = 0, false
	v := newEnv(t)
	g := &gen{rng: rand.New(rand.NewPCG(testSeed(t), 1)), v: v}
	g.populate()
	refreshNow(t, v)
	v.must(v.grant("user:u1", roles.ViewOnly, "collection:/Shared", store.ScopeSubtree))
	if s := v.e.opa.cur.Load(); !slices.Contains(s.stale, "/Shared") {
		t.Fatalf("a subtree grant on /Shared left the stale roots %v", s.stale)
	}
}
