package authz

import (
	"fmt"
	"slices"
	"strings"

	"github.com/grantd/grantd/subjects"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/grantd/grantd/collections"
	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/store"
)

// The compiled state, at data.grantd.state, is laid out so that a decision
// is a bounded number of keyed lookups (one per ancestor of the target and
// one per matching grant), never a scan of grants:
//
//	p[principal]      {"kind", "name", "active", "admin", "default", "s": set of subjects it acts as}
//	p[k8s-serviceaccount:…]  the same, for a Kubernetes service account some grant names
//	ops[operation]    {"kind": "swarm"|"repository"|"kubernetes", "create", "reserved", "options": set}
//	roles[role]       {operation: set of options}
//	(a "set" is an object {item: true}, so that it survives JSON)
//	c[path]           [path, parent, ..., "/"]  the collection's chain, itself first
//	gs[path]          {subject: {role: grant ID}}   subtree grants on the collection
//	ge[path]          {subject: {role: grant ID}}   exact grants on the collection
//	at[path]          {subject: {role: grant ID}}   every grant that applies at the collection: gs of
//	                  each path of its chain and ge of its own, merged by subject. Derived: grantd's
//	                  storage computes an entry from gs, ge and c when it is read (dataStore.Read);
//	                  an export carries its definition in Rego (policies/derived) instead.
//	held[principal][path]  set of the roles the principal's subjects (its s) hold in at[path];
//	                  derived like at, from p and at
//	holds[principal][path]  {operation: set of options}  every operation of the roles in
//	                  held[principal][path], with the union of the options they grant with it;
//	                  derived like at, from held and roles
//	sched[subject]    {path: "all"|"subtree"|"both"}  the topmost collections where a grant of the
//	                  subject holds node.schedule ("all"), the topmost of its subtree grants that
//	                  do ("subtree"), and those that are both
//	hs[principal][path]  the highest collection of c[path] that sched of one of the principal's
//	                  subjects has as "subtree" or "both"; derived like at, from p, sched and c
//	pt[principal]     [path, ...]  of the paths where sched of the principal's subjects has "all"
//	                  or "both", those with none of them above, sorted; derived like at
//	repos["ns/name"]  {"ns", "public"}
//	ns[namespace]     {"kind": "user"|"org", "admins": set of users}
//	rg[object]        {subject: {role: grant ID}}   grants on repository:… and namespace:…
//	                  (namespace:* and Kubernetes namespaces included)
//	kg[group]         set of the team subjects a Kubernetes group maps to
//
// Every key is a string grantd validated before storing it; keys and values
// reach Rego as data, never as source, so no name can change the policy.

// Tables of the compiled state.
const (
	tPrincipals  = "p"
	tOps         = "ops"
	tRoles       = "roles"
	tCollections = "c"
	tSubtree     = "gs"
	tExact       = "ge"
	tSchedule    = "sched"
	tRepos       = "repos"
	tNamespaces  = "ns"
	tRepoGrants  = "rg"
	tKubeGroups  = "kg"
	// tApplies, tHeld, tHolds, tSchedHighest and tSchedTop are derived,
	// never stored (derived.go).
	tApplies      = "at"
	tHeld         = "held"
	tHolds        = "holds"
	tSchedHighest = "hs"
	tSchedTop     = "pt"
)

var allTables = []string{tPrincipals, tOps, tRoles, tCollections, tSubtree, tExact, tSchedule, tRepos, tNamespaces, tRepoGrants, tKubeGroups}

// key addresses one entry of the compiled state.
type key struct{ table, name string }

// compiler computes entries of the compiled state from the store.
type compiler struct {
	r Reader
	// t shares string terms among the entries this compiler builds.
	t terms
	// schedulers remembers, per role, whether it holds node.schedule:
	// every grant of every subject is checked, against a hundred roles or
	// so (reading a role copies its permissions). Nil remembers nothing.
	schedulers map[string]bool
}

// newCompiler is a compiler that shares terms and remembers roles; one per
// goroutine, since neither map is locked.
func newCompiler(r Reader) compiler {
	return compiler{r: readOnly(r), t: terms{}, schedulers: map[string]bool{}}
}

func str(s string) *ast.Term { return ast.StringTerm(s) }

// terms hands out one *ast.Term per distinct string, so that the names an
// entry repeats (subjects, roles, ancestor paths, object keys) are stored
// once per compile rather than once per entry: with enterprise-large that
// is most of the compiled state's strings. The state is read-only, so
// entries can share terms, as OPA shares its own interned ones. A nil
// terms shares nothing.
type terms map[string]*ast.Term

func (t terms) str(s string) *ast.Term {
	if t == nil {
		return ast.StringTerm(s)
	}
	x, ok := t[s]
	if !ok {
		x = ast.StringTerm(s)
		t[s] = x
	}
	return x
}

// subject is str of s's canonical string, made only when it is not shared
// yet.
func (t terms) subject(s subjects.Subject) *ast.Term {
	var buf [64]byte
	b, _ := s.AppendText(buf[:0])
	if x, ok := t[string(b)]; ok {
		return x
	}
	return t.str(string(b))
}

// stringSet is a set as an object {item: true}: JSON has no sets, and the
// exported bundle must mean exactly what the compiled state means.
func (t terms) stringSet(items ...string) *ast.Term {
	items = distinct(items)
	kvs := make([][2]*ast.Term, len(items))
	for i, s := range items {
		kvs[i] = [2]*ast.Term{t.str(s), ast.InternedTerm(true)}
	}
	return obj(kvs...)
}

// distinct is items without repeats, in their first order: obj needs
// distinct keys. It returns items itself when nothing repeats.
func distinct(items []string) []string {
	if len(items) <= 16 {
		// Most sets are a principal's subjects, a dozen on average: a
		// compile makes one per user, and comparing them beats a map.
		repeats := false
		for i := 1; i < len(items) && !repeats; i++ {
			repeats = slices.Contains(items[:i], items[i])
		}
		if !repeats {
			return items
		}
	}
	seen := make(map[string]bool, len(items))
	var out []string // nil until the first repeat
	for i, s := range items {
		if seen[s] {
			if out == nil {
				out = slices.Clone(items[:i])
			}
			continue
		}
		seen[s] = true
		if out != nil {
			out = append(out, s)
		}
	}
	if out == nil {
		return items
	}
	return out
}

// obj is the object of items, whose keys are distinct (ast.NewObject
// does not look for duplicates; it places the items in one allocation,
// where Insert allocates one element per item and regrows the object's
// key list: the compiled state is most of the heap's objects, and every
// collection marks them all).
func obj(items ...[2]*ast.Term) *ast.Term { return ast.NewTerm(ast.NewObject(items...)) }

// kv is an item of an entry: a field (fieldTerms) or another key.
func (t terms) kv(k string, v *ast.Term) [2]*ast.Term {
	if f, ok := fieldTerms[k]; ok {
		return [2]*ast.Term{f, v}
	}
	return [2]*ast.Term{t.str(k), v}
}

// entry computes one entry; nil means the entry must not exist.
func (c compiler) entry(k key) (*ast.Term, error) {
	switch k.table {
	case tPrincipals:
		return c.principal(k.name)
	case tRoles:
		return c.role(k.name)
	case tCollections:
		return c.collection(k.name)
	case tSubtree, tExact:
		return c.collectionGrants(k.name, k.table == tExact)
	case tSchedule:
		return c.schedule(k.name)
	case tRepos:
		return c.repository(k.name)
	case tNamespaces:
		return c.namespace(k.name)
	case tRepoGrants:
		return c.repoGrants(k.name)
	case tKubeGroups:
		return c.kubeGroup(k.name)
	}
	return nil, fmt.Errorf("authz: no compiled table %q", k.table)
}

func (c compiler) principal(subject string) (*ast.Term, error) {
	s, err := subjects.ParseStored(subject)
	if err != nil {
		return nil, nil // not a principal: absent, and the policy denies it as unknown
	}
	kind, name := s.Kind, s.Name
	switch kind {
	case subjects.User:
		u, err := c.r.User(name)
		if err != nil || u == nil {
			return nil, err
		}
		teams, err := c.r.TeamsOfUser(name)
		if err != nil {
			return nil, err
		}
		orgs, err := c.r.OrgsOfUser(name)
		if err != nil {
			return nil, err
		}
		held := make([]string, 0, 1+len(teams)+len(orgs))
		held = append(held, "authenticated")
		// Each subject's shared string: made once per compile, not once
		// per member.
		for _, t := range teams {
			held = append(held, stringOf(c.t.subject(subjects.OfTeam(t.Org, t.Team))))
		}
		for _, o := range orgs {
			held = append(held, stringOf(c.t.subject(subjects.OfOrg(o.Org))))
		}
		return c.t.principal("user", name, u.Active, u.IsAdmin, u.DefaultCollection, subject, held), nil
	case subjects.ServiceAccount:
		a, err := c.r.ServiceAccount(name)
		if err != nil || a == nil {
			return nil, err
		}
		return c.t.principal(string(kind), name, a.Active, false, "", subject, []string{"authenticated"}), nil
	case subjects.Anonymous:
		return c.t.principal("anonymous", "", true, false, "", "anonymous", nil), nil
	case subjects.KubernetesServiceAccount:
		// grantd holds no account for it: it is a principal while some
		// grant names it, and unknown (no opinion) otherwise.
		gs, err := c.r.GrantsOfSubject(s)
		if err != nil || len(gs) == 0 {
			return nil, err
		}
		return c.t.principal(string(kind), name, true, false, "", subject, nil), nil
	}
	return nil, nil
}

// principalSubjects is the key of a principal's subjects in its entry
// p[name] (the policy's principal.s).
const principalSubjects = "s"

func (c compiler) role(id string) (*ast.Term, error) {
	r, err := c.r.Role(id)
	if err != nil || r == nil {
		return nil, err
	}
	return c.t.role(r.Role), nil
}

func (t terms) role(r roles.Role) *ast.Term {
	kvs := make([][2]*ast.Term, 0, len(r.Permissions))
	seen := make(map[string]bool, len(r.Permissions))
	for _, p := range slices.Backward(r.Permissions) { // the last of an operation's permissions wins, as with Insert
		if !seen[p.Operation] {
			seen[p.Operation] = true
			kvs = append(kvs, t.kv(p.Operation, t.stringSet(p.Options...)))
		}
	}
	return obj(kvs...)
}

// opsTerm is the operation catalog, which never changes at run time.
func opsTerm() *ast.Term {
	var t terms
	o := ast.NewObject()
	for _, op := range roles.Catalog() {
		kind := string(op.Object)
		verb := op.ID[strings.IndexByte(op.ID, '.')+1:]
		o.Insert(str(op.ID), obj(t.kv("kind", str(kind)), t.kv("create", ast.BooleanTerm(kind == "swarm" && verb == "create")),
			t.kv("reserved", ast.BooleanTerm(op.Reserved)), t.kv("options", t.stringSet(op.Options...))))
	}
	return ast.NewTerm(o)
}

func (c compiler) collection(path string) (*ast.Term, error) {
	col, err := c.r.Collection(path)
	if err != nil || col == nil {
		return nil, err
	}
	chain := collections.Ancestors(path)
	paths := make([]*ast.Term, len(chain))
	for i, a := range chain {
		paths[i] = c.t.str(a)
	}
	return ast.ArrayTerm(paths...), nil
}

// subjectGrants is what a set of grants gives each subject: its roles in
// their first order, and the grant ID of each (the last grant of a role
// wins, as with Insert).
type subjectGrants struct {
	roles []string
	ids   map[string]string
}

// groupGrants groups the grants kept by subject, the subjects in their
// first order.
func groupGrants(gs []*store.Grant, keep func(*store.Grant) bool) ([]subjects.Subject, map[subjects.Subject]*subjectGrants) {
	bySubject := map[subjects.Subject]*subjectGrants{}
	var order []subjects.Subject
	for _, g := range gs {
		if !keep(g) {
			continue
		}
		h, ok := bySubject[g.Subject]
		if !ok {
			h = &subjectGrants{ids: map[string]string{}}
			bySubject[g.Subject] = h
			order = append(order, g.Subject)
		}
		if _, ok := h.ids[g.Role]; !ok {
			h.roles = append(h.roles, g.Role)
		}
		h.ids[g.Role] = g.ID
	}
	return order, bySubject
}

// grantObject is {subject: {role: grant ID}} for a set of grants, as an
// object (the table rg; gs and ge keep a grantMap).
func (t terms) grantObject(gs []*store.Grant, keep func(*store.Grant) bool) *ast.Term {
	order, bySubject := groupGrants(gs, keep)
	if len(order) == 0 {
		return nil
	}
	kvs := make([][2]*ast.Term, len(order))
	for i, s := range order {
		h := bySubject[s]
		roles := make([][2]*ast.Term, len(h.roles))
		for j, r := range h.roles {
			roles[j] = t.kv(r, str(h.ids[r]))
		}
		kvs[i] = [2]*ast.Term{t.subject(s), obj(roles...)}
	}
	return obj(kvs...)
}

func (c compiler) collectionGrants(path string, exact bool) (*ast.Term, error) {
	gs, err := c.r.GrantsOnObject(subjects.CollectionOf(path))
	if err != nil {
		return nil, err
	}
	return c.t.grantMap(gs, func(g *store.Grant) bool { return (g.Scope == store.ScopeExact) == exact }), nil
}

func (c compiler) repoGrants(object string) (*ast.Term, error) {
	o, err := subjects.ParseStoredObject(object)
	if err != nil {
		return nil, nil
	}
	gs, err := c.r.GrantsOnObject(o)
	if err != nil {
		return nil, err
	}
	return c.t.grantObject(gs, func(*store.Grant) bool { return true }), nil
}

// schedule lists, for subject, the topmost collections where a grant of
// its own holds node.schedule ("all": those with no ancestor where it
// holds node.schedule too), and the topmost of those its subtree grants
// reach ("subtree"), in one object {path: "all"|"subtree"|"both"}: most
// subjects have no exact grant, so both sets are the same, and one object
// of shared strings per subject is the least the collector has to mark.
//
// The policy wants, of the union of these sets over a principal's
// subjects, the topmost ("all", the fallback) and the highest on a
// target's chain ("subtree"), and both survive keeping only each
// subject's topmost: a collection below another one of its own subject's
// set is below it in the union too, and a chain's highest element of a
// set has no ancestor in it (its ancestors are on the chain). So a
// principal's teams granted dozens of collections beneath one cost the
// policy one. Roles never change (they are created and deleted, unused),
// and grant paths name existing collections, so the entry only changes
// with the subject's own grants (affected).
func (c compiler) schedule(subject string) (*ast.Term, error) {
	s, err := subjects.ParseStored(subject)
	if err != nil {
		return nil, nil
	}
	gs, err := c.r.GrantsOfSubject(s)
	if err != nil {
		return nil, err
	}
	all, subtree := map[string]bool{}, map[string]bool{}
	for _, g := range gs {
		path, ok := g.Object.CollectionPath()
		if !ok {
			continue
		}
		scheduling, err := c.schedules(g.Role)
		if err != nil {
			return nil, err
		}
		if scheduling {
			all[path] = true
			if g.Scope != store.ScopeExact {
				subtree[path] = true
			}
		}
	}
	if len(all) == 0 {
		return nil, nil
	}
	kind := map[string]string{}
	for path := range all {
		if !heldAbove(all, path) {
			kind[path] = "all"
		}
	}
	for path := range subtree {
		if !heldAbove(subtree, path) {
			if kind[path] == "all" {
				kind[path] = "both"
			} else {
				kind[path] = "subtree"
			}
		}
	}
	kvs := make([][2]*ast.Term, 0, len(kind))
	for path, k := range kind {
		kvs = append(kvs, c.t.kv(path, c.t.str(k)))
	}
	return obj(kvs...), nil
}

// heldAbove reports whether an ancestor of path is in held.
func heldAbove[V any](held map[string]V, path string) bool {
	for a := collections.Parent(path); a != ""; a = collections.Parent(a) {
		if _, ok := held[a]; ok {
			return true
		}
	}
	return false
}

// schedules reports whether the role holds node.schedule.
func (c compiler) schedules(role string) (bool, error) {
	if v, ok := c.schedulers[role]; ok {
		return v, nil
	}
	r, err := c.r.Role(role)
	if err != nil {
		return false, err
	}
	v := r != nil && holds(r.Role, "node.schedule")
	if c.schedulers != nil {
		c.schedulers[role] = v
	}
	return v, nil
}

func holds(r roles.Role, op string) bool {
	for _, p := range r.Permissions {
		if p.Operation == op {
			return true
		}
	}
	return false
}

func (c compiler) repository(full string) (*ast.Term, error) {
	ns, name, _ := strings.Cut(full, "/")
	r, err := c.r.Repository(ns, name)
	if err != nil || r == nil {
		return nil, err
	}
	return obj(c.t.kv("ns", c.t.str(ns)), c.t.kv("public", ast.InternedTerm(r.Visibility == store.VisibilityPublic))), nil
}

// userNamespace is every user's namespace entry: they are all alike, and
// the state is read-only, so they share one term (50,000 of them with
// enterprise-large, about 25 MiB apart).
var userNamespace = obj(terms(nil).kv("kind", str("user")), terms(nil).kv("admins", terms(nil).stringSet()))

func (c compiler) namespace(ns string) (*ast.Term, error) {
	u, err := c.r.User(ns)
	if err != nil || u != nil {
		if err != nil {
			return nil, err
		}
		return userNamespace, nil
	}
	o, err := c.r.Org(ns)
	if err != nil || o == nil {
		return nil, err
	}
	members, err := c.r.OrgMembers(ns)
	if err != nil {
		return nil, err
	}
	var admins []string
	for _, m := range members {
		if m.IsAdmin {
			admins = append(admins, m.User)
		}
	}
	return obj(c.t.kv("kind", c.t.str("org")), c.t.kv("admins", c.t.stringSet(admins...))), nil
}

func (c compiler) kubeGroup(group string) (*ast.Term, error) {
	teams, err := c.r.TeamsOfKubernetesGroup(group)
	if err != nil || len(teams) == 0 {
		return nil, err
	}
	names := make([]string, len(teams))
	for i, t := range teams {
		names[i] = subjects.OfTeam(t.Org, t.Name).String()
	}
	return c.t.stringSet(names...), nil
}

// affected lists the compiled entries a set of row changes may alter.
func affected(changes []store.Change) map[key]bool {
	keys := map[key]bool{}
	add := func(table, name string) { keys[key{table, name}] = true }
	for _, ch := range changes {
		for _, row := range []any{ch.Before, ch.After} {
			switch x := row.(type) {
			case *store.User:
				add(tPrincipals, subjects.OfUser(x.Name).String())
				add(tNamespaces, x.Name)
			case *store.ServiceAccount:
				add(tPrincipals, subjects.OfServiceAccount(x.Name).String())
			case *store.Org:
				add(tNamespaces, x.Name)
			case *store.Team:
				for _, g := range x.KubernetesGroups {
					add(tKubeGroups, g)
				}
			case *store.OrgMember:
				add(tPrincipals, subjects.OfUser(x.User).String())
				add(tNamespaces, x.Org)
			case *store.TeamMember:
				add(tPrincipals, subjects.OfUser(x.User).String())
			case *store.Collection:
				add(tCollections, x.Path)
			case *store.Role:
				add(tRoles, x.ID)
			case *store.Grant:
				if path, ok := x.Object.CollectionPath(); ok {
					add(tSubtree, path)
					add(tExact, path)
					add(tSchedule, x.Subject.String())
				} else {
					add(tRepoGrants, x.Object.String())
				}
				if x.Subject.Kind == subjects.KubernetesServiceAccount {
					add(tPrincipals, x.Subject.String())
				}
			case *store.Repository:
				add(tRepos, x.Namespace+"/"+x.Name)
			}
		}
	}
	return keys
}
