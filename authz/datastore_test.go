package authz

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/grantd/grantd/collections"
	"github.com/grantd/grantd/policies"
	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/store"
)

// TestDerivedAppliesTable: the derived table at reads the same however it
// is addressed (whole, by collection, by subject, by role), and equals the
// grants of gs on the collection's chain and of ge on the collection,
// merged by subject, nearest grant first.
func TestDerivedAppliesTable(t *testing.T) {
	v := newEnv(t)
	v.must(v.user("ann"), v.user("bob"))
	for _, p := range []string{"/a", "/a/b", "/a/b/c", "/z"} {
		v.must(store.CreateCollection{Collection: store.Collection{Path: p}})
	}
	v.must(
		v.grant("user:ann", roles.ViewOnly, "collection:/a", store.ScopeSubtree),
		v.grant("user:ann", roles.ViewOnly, "collection:/a/b", store.ScopeSubtree), // the same role, nearer
		v.grant("user:ann", roles.Scheduler, "collection:/a/b", store.ScopeSubtree),
		v.grant("user:bob", roles.FullControl, "collection:/a/b/c", store.ScopeExact),
		v.grant("user:bob", roles.ViewOnly, "collection:/a/b", store.ScopeExact), // not below /a/b
	)
	read := stateReader(t, v)

	whole := read(tApplies).(ast.Object)
	want := map[string]string{
		"/":      `null`,
		"/z":     `null`,
		"/nope":  `null`,
		"/a":     `{"user:ann": {"viewonly": "g00003"}}`,
		"/a/b":   `{"user:ann": {"viewonly": "g00004", "scheduler": "g00005"}, "user:bob": {"viewonly": "g00007"}}`,
		"/a/b/c": `{"user:ann": {"viewonly": "g00004", "scheduler": "g00005"}, "user:bob": {"fullcontrol": "g00006"}}`,
	}
	for path, w := range want {
		got := read(tApplies, path)
		if w == "null" {
			if got != nil || whole.Get(ast.StringTerm(path)) != nil {
				t.Errorf("at[%s] = %v, want none", path, got)
			}
			continue
		}
		if got == nil || ast.Compare(got, ast.MustParseTerm(w).Value) != 0 {
			t.Errorf("at[%s] = %v, want %s", path, got, w)
			continue
		}
		if e := whole.Get(ast.StringTerm(path)); e == nil || ast.Compare(e.Value, got) != 0 {
			t.Errorf("the whole table's at[%s] = %v, read alone %v", path, e, got)
		}
		got.(ast.Object).Foreach(func(s, roles *ast.Term) {
			subject := string(s.Value.(ast.String))
			if one := read(tApplies, path, subject); one == nil || ast.Compare(one, roles.Value) != 0 {
				t.Errorf("at[%s][%s] = %v, want %v", path, subject, one, roles)
			}
			roles.Value.(ast.Object).Foreach(func(r, id *ast.Term) {
				if got := read(tApplies, path, subject, string(r.Value.(ast.String))); got == nil || ast.Compare(got, id.Value) != 0 {
					t.Errorf("at[%s][%s][%v] = %v, want %v", path, subject, r, got, id)
				}
			})
		})
		if got := read(tApplies, path, "user:nobody"); got != nil {
			t.Errorf("at[%s][user:nobody] = %v", path, got)
		}
	}
	// Read whole, the state holds the same table.
	if state, ok := read().(ast.Object); !ok || state.Get(ast.StringTerm(tApplies)) == nil ||
		ast.Compare(state.Get(ast.StringTerm(tApplies)).Value, whole) != 0 {
		t.Errorf("data.grantd.state read whole has no at, or another one than data.grantd.state.at")
	}

	// Stock OPA, given the exported data and the derived modules, computes
	// the same table.
	if want := regoDerivedAt(t, v); ast.Compare(whole, want) != 0 {
		t.Errorf("grantd's at:\n%v\nthe Rego definition's:\n%v", whole, want)
	}

	// The whole table has no other entries (but bootstrap's, in /Shared).
	whole.Foreach(func(k, _ *ast.Term) {
		if p := string(k.Value.(ast.String)); !collections.IsWithin(p, "/Shared") && (want[p] == "" || want[p] == "null") {
			t.Errorf("at has an entry for %v", k)
		}
	})
}

// TestDerivedHeldTable: the derived table held reads the same however it
// is addressed (whole, by principal, by principal and collection, by
// role), holds for each principal the roles its subjects (itself, its
// teams and orgs, "authenticated") hold in at, and equals what stock OPA
// computes from the exported tables and the derived modules.
func TestDerivedHeldTable(t *testing.T) {
	v := acmeEnv(t)
	v.must(store.SetOrgMember{Member: store.OrgMember{Org: "acme", User: "bob"}})
	for _, p := range []string{"/a", "/a/b", "/a/b/c", "/z"} {
		v.must(store.CreateCollection{Collection: store.Collection{Path: p}})
	}
	v.must(
		v.grant("user:ann", roles.ViewOnly, "collection:/a", store.ScopeSubtree),
		v.grant("team:acme/dev", roles.Scheduler, "collection:/a/b", store.ScopeSubtree),
		v.grant("org:acme", roles.ViewOnly, "collection:/a/b", store.ScopeSubtree),
		v.grant("user:bob", roles.FullControl, "collection:/a/b/c", store.ScopeExact),
		v.grant("authenticated", roles.RestrictedControl, "collection:/z", store.ScopeSubtree),
	)
	read := stateReader(t, v)
	set := func(rs ...string) string {
		var b strings.Builder
		for i, r := range rs {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q: true", r)
		}
		return "{" + b.String() + "}"
	}
	rc := roles.RestrictedControl
	want := map[[2]string]string{
		{"user:ann", "/a"}:        set(roles.ViewOnly),
		{"user:ann", "/a/b"}:      set(roles.ViewOnly, roles.Scheduler),
		{"user:ann", "/a/b/c"}:    set(roles.ViewOnly, roles.Scheduler),
		{"user:ann", "/z"}:        set(rc),
		{"user:ann", "/"}:         ``,
		{"user:bob", "/a"}:        ``,
		{"user:bob", "/a/b"}:      set(roles.ViewOnly),
		{"user:bob", "/a/b/c"}:    set(roles.ViewOnly, roles.FullControl),
		{"user:bob", "/z"}:        set(rc),
		{"user:cy", "/a/b/c"}:     ``,
		{"user:cy", "/z"}:         set(rc),
		{"user:nobody", "/z"}:     ``,
		{"user:ann", "/nope"}:     ``,
		{"team:acme/dev", "/a/b"}: ``, // not a principal
	}
	checkPrincipalTable(t, v, tHeld, want, func(k [2]string, got ast.Object) {
		got.Foreach(func(r, _ *ast.Term) {
			if x := read(tHeld, k[0], k[1], string(r.Value.(ast.String))); x == nil || ast.Compare(x, ast.Boolean(true)) != 0 {
				t.Errorf("held[%s][%s][%v] = %v, want true", k[0], k[1], r, x)
			}
		})
	})
	if got := read(tHeld, "user:nobody"); got != nil {
		t.Errorf("held[user:nobody] = %v", got)
	}
}

// TestDerivedHoldsTable: the derived table holds reads the same however it
// is addressed (whole, by principal, by collection, by operation, by
// option), has for each principal and collection the operations of the
// roles held there with the union of their options, and equals what
// stock OPA computes from the exported tables and the derived modules.
func TestDerivedHoldsTable(t *testing.T) {
	v := acmeEnv(t)
	v.must(v.role("priv", roles.Permission{Operation: "container.create", Options: []string{"privileged"}},
		roles.Permission{Operation: "container.view"}),
		v.role("net", roles.Permission{Operation: "container.create", Options: []string{"host_networking", "privileged"}}),
		v.role("plain", roles.Permission{Operation: "container.create"}))
	for _, p := range []string{"/a", "/a/b", "/z"} {
		v.must(store.CreateCollection{Collection: store.Collection{Path: p}})
	}
	v.must(
		v.grant("user:ann", "priv", "collection:/a", store.ScopeSubtree),
		v.grant("team:acme/dev", "net", "collection:/a/b", store.ScopeSubtree),
		v.grant("user:bob", "plain", "collection:/a/b", store.ScopeExact),
		v.grant("user:cy", "plain", "collection:/z", store.ScopeSubtree),
		v.grant("user:cy", "priv", "collection:/z", store.ScopeSubtree),
	)
	read := stateReader(t, v)
	want := map[[2]string]string{
		{"user:ann", "/a"}:    `{"container.create": {"privileged": true}, "container.view": {}}`,
		{"user:ann", "/a/b"}:  `{"container.create": {"host_networking": true, "privileged": true}, "container.view": {}}`,
		{"user:ann", "/z"}:    ``,
		{"user:bob", "/a"}:    ``,
		{"user:bob", "/a/b"}:  `{"container.create": {}}`,
		{"user:bob", "/z"}:    ``, // a role held, but no operation in it
		{"user:cy", "/z"}:     `{"container.create": {"privileged": true}, "container.view": {}}`,
		{"user:nobody", "/a"}: ``,
		{"user:ann", "/nope"}: ``,
	}
	checkPrincipalTable(t, v, tHolds, want, func(k [2]string, got ast.Object) {
		got.Foreach(func(op, opts *ast.Term) {
			if x := read(tHolds, k[0], k[1], string(op.Value.(ast.String))); x == nil || ast.Compare(x, opts.Value) != 0 {
				t.Errorf("holds[%s][%s][%v] = %v, want %v", k[0], k[1], op, x, opts)
			}
			opts.Value.(ast.Object).Foreach(func(o, _ *ast.Term) {
				if x := read(tHolds, k[0], k[1], string(op.Value.(ast.String)), string(o.Value.(ast.String))); x == nil || ast.Compare(x, ast.Boolean(true)) != 0 {
					t.Errorf("holds[%s][%s][%v][%v] = %v, want true", k[0], k[1], op, o, x)
				}
			})
		})
		if x := read(tHolds, k[0], k[1], "node.schedule"); x != nil {
			t.Errorf("holds[%s][%s][node.schedule] = %v, want none", k[0], k[1], x)
		}
	})
	if x := read(tHolds, "user:ann", "/z", "container.create"); x != nil {
		t.Errorf("holds[user:ann][/z][container.create] = %v, want none", x)
	}
}

// acmeEnv is an engine with the users ann, bob and cy, and the org acme
// with its team dev, ann a member of both.
func acmeEnv(t *testing.T) *env {
	v := newEnv(t)
	v.must(v.user("ann"), v.user("bob"), v.user("cy"),
		store.CreateOrg{Org: store.Org{Name: "acme"}},
		store.CreateTeam{Team: store.Team{Org: "acme", Name: "dev"}},
		store.SetOrgMember{Member: store.OrgMember{Org: "acme", User: "ann"}},
		store.SetTeamMember{Member: store.TeamMember{Org: "acme", Team: "dev", User: "ann"}})
	return v
}

// checkPrincipalTable checks a derived table keyed by principal and
// collection: each entry of want ("" for none) read alone, in the whole
// table and in its principal's entry read alone, then below with below;
// the whole table in data.grantd.state read whole; and the whole table
// against what stock OPA computes from the exported tables and the
// derived modules.
func checkPrincipalTable(t *testing.T, v *env, table string, want map[[2]string]string, below func(k [2]string, got ast.Object)) {
	t.Helper()
	read := stateReader(t, v)
	whole, _ := read(table).(ast.Object)
	if whole == nil {
		t.Fatalf("%s read whole is not an object", table)
	}
	for k, w := range want {
		got := read(table, k[0], k[1])
		var inWhole ast.Value
		if e := whole.Get(ast.StringTerm(k[0])); e != nil {
			if r := e.Value.(ast.Object).Get(ast.StringTerm(k[1])); r != nil {
				inWhole = r.Value
			}
		}
		if w == "" {
			if got != nil || inWhole != nil {
				t.Errorf("%s[%s][%s] = %v (whole: %v), want none", table, k[0], k[1], got, inWhole)
			}
			continue
		}
		if got == nil || ast.Compare(got, ast.MustParseTerm(w).Value) != 0 {
			t.Errorf("%s[%s][%s] = %v, want %s", table, k[0], k[1], got, w)
			continue
		}
		if inWhole == nil || ast.Compare(inWhole, got) != 0 {
			t.Errorf("the whole table's %s[%s][%s] = %v, read alone %v", table, k[0], k[1], inWhole, got)
		}
		if one := read(table, k[0]); one == nil || ast.Compare(one.(ast.Object).Get(ast.StringTerm(k[1])).Value, got) != 0 {
			t.Errorf("%s[%s] read alone has another [%s] than %v: %v", table, k[0], k[1], got, one)
		}
		below(k, got.(ast.Object))
	}
	if state, ok := read().(ast.Object); !ok || state.Get(ast.StringTerm(table)) == nil ||
		ast.Compare(state.Get(ast.StringTerm(table)).Value, whole) != 0 {
		t.Errorf("data.grantd.state read whole has no %s, or another one than data.grantd.state.%[1]s", table)
	}
	if rego := regoDerived(t, v, table); ast.Compare(whole, rego) != 0 {
		t.Errorf("grantd's %s:\n%v\nthe Rego definition's:\n%v", table, whole, rego)
	}
}

// stateReader reads data.grantd.state below a path from the engine's
// storage in one transaction; nil when nothing is there.
func stateReader(t *testing.T, v *env) func(path ...string) ast.Value {
	ctx := context.Background()
	txn, err := v.e.opa.NewTransaction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return func(path ...string) ast.Value {
		t.Helper()
		x, err := v.e.opa.Read(ctx, txn, append(storage.Path{"grantd", "state"}, path...))
		if storage.IsNotFound(err) {
			return nil
		}
		if err != nil {
			t.Fatalf("read %v: %v", path, err)
		}
		return x.(ast.Value)
	}
}

// regoDerivedAt evaluates data.grantd.state.at with OPA over the engine's
// exported data and the derived modules (policies.DerivedModules).
func regoDerivedAt(t *testing.T, v *env) ast.Value { return regoDerived(t, v, tApplies) }

// regoDerived evaluates the derived table data.grantd.state.<table> with
// OPA over the engine's exported data and the derived modules.
func regoDerived(t *testing.T, v *env, table string) ast.Value {
	t.Helper()
	ctx := context.Background()
	state, _, err := v.e.Data(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data, err := ast.JSON(state)
	if err != nil {
		t.Fatal(err)
	}
	opts := []func(*rego.Rego){
		rego.Query("x = data.grantd.state." + table),
		rego.Store(inmem.NewFromObject(map[string]any{"grantd": map[string]any{"state": data}})),
	}
	for name, src := range policies.DerivedModules() {
		opts = append(opts, rego.Module(name, src))
	}
	rs, err := rego.New(opts...).Eval(ctx)
	if err != nil || len(rs) != 1 {
		t.Fatalf("evaluating the derived modules: %v %v", rs, err)
	}
	want, err := ast.InterfaceToValue(rs[0].Bindings["x"])
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// TestReadCache: the evaluation's read cache answers what was put at
// data.grantd.state.<table>.<key> and one level below, and what lies under
// it; it keeps nothing else, and an empty field is not its entry.
func TestReadCache(t *testing.T) {
	ref := func(s string) ast.Ref { return ast.MustParseRef(s) }
	role := ast.MustParseTerm(`{"container.create": {"bind": true}, "": {"x": true}}`).Value
	var c readCache
	if got := c.Get(ref(`data.grantd.state.roles.admin`)); got != nil {
		t.Fatalf("an empty cache answered %v", got)
	}
	c.Put(ref(`data.grantd.state.roles.admin`), role)
	c.Put(ref(`data.grantd.state.roles.viewer["container.list"]`), ast.MustParseTerm(`{"all": true}`).Value)
	c.Put(ref(`data.grantd.revision`), ast.Number("7"))
	c.Put(ref(`data.grantd.state.roles.ops["a"]["b"]`), ast.String("deep"))
	c.Put(ref(`data.grantd.state.roles.empty[""]`), ast.String("field"))
	c.Put(ref(`data.other.state.roles.admin`), ast.String("elsewhere"))
	c.Put(ref(`data.grantd.derived.roles.admin`), ast.String("elsewhere"))
	cases := []struct {
		ref  string
		want string // "" for no answer
	}{
		{`data.grantd.state.roles.admin`, role.String()},
		{`data.grantd.state.roles.admin["container.create"]`, `{"bind": true}`},
		{`data.grantd.state.roles.admin["container.create"].bind`, `true`},
		{`data.grantd.state.roles.admin[""]`, `{"x": true}`},
		{`data.grantd.state.roles.admin["image.pull"]`, ``},
		{`data.grantd.state.roles.viewer["container.list"]`, `{"all": true}`},
		{`data.grantd.state.roles.viewer["container.list"].all`, `true`},
		{`data.grantd.state.roles.viewer`, ``},
		{`data.grantd.state.roles.viewer[""]`, ``},
		{`data.grantd.state.roles.other`, ``},
		{`data.grantd.state.teams.admin`, ``},
		{`data.grantd.revision`, ``},
		{`data.grantd.state.roles.ops["a"]["b"]`, ``},
		{`data.grantd.state.roles.ops["a"]`, ``},
		{`data.grantd.state.roles.empty[""]`, `"field"`},
		{`data.grantd.state.roles.empty`, ``},
		{`data.other.state.roles.admin`, ``},
		{`data.grantd.derived.roles.admin`, ``},
	}
	for _, tc := range cases {
		got := c.Get(ref(tc.ref))
		switch {
		case tc.want == "" && got != nil:
			t.Errorf("%s: %v, want no answer", tc.ref, got)
		case tc.want != "" && (got == nil || got.Compare(ast.MustParseTerm(tc.want).Value) != 0):
			t.Errorf("%s: %v, want %s", tc.ref, got, tc.want)
		}
	}
}
