package authz

// A whole compile: every entry of the state, from a store read once.

import (
	"errors"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
	"github.com/open-policy-agent/opa/v1/ast"
)

// initialState is the compiled form of an empty store: the catalog and
// the anonymous principal, which exist whatever the store holds.
func initialState() *snapshot {
	b := newSnapshotBuilder()
	b.setObject(tOps, opsTerm().Value.(ast.Object))
	anonymous, _ := compiler{}.principal("anonymous")
	b.set(key{tPrincipals, subjects.AnonymousCaller.String()}, anonymous)
	return b.snapshot(0)
}

// build compiles the whole state, as of revision rev.
func (c compiler) build(rev uint64) (*snapshot, error) {
	c.r = readOnly(c.r)
	// The grants and the memberships are read while the keys are listed
	// here (preload reads them on two goroutines).
	type preloadResult struct {
		p   *preloaded
		err error
	}
	pre := make(chan preloadResult, 1)
	go func() {
		p, err := preload(c.r)
		pre <- preloadResult{p, err}
	}()
	users, err := c.r.Users("", "", 0)
	if err != nil {
		return nil, err
	}
	accounts, err := c.r.ServiceAccounts("", 0)
	if err != nil {
		return nil, err
	}
	orgs, err := c.r.Orgs("", 0)
	if err != nil {
		return nil, err
	}
	groups, err := c.r.KubernetesGroups()
	if err != nil {
		return nil, err
	}
	rs, err := c.r.Roles()
	if err != nil {
		return nil, err
	}
	cols, err := c.r.Collections("", 0)
	if err != nil {
		return nil, err
	}
	repos, err := c.r.AllRepositories()
	if err != nil {
		return nil, err
	}
	loaded := <-pre
	if loaded.err != nil {
		return nil, loaded.err
	}
	grantKeys := loaded.p.grantKeys()
	keys := make([]key, 0, 1+2*len(users)+len(accounts)+len(orgs)+len(groups)+len(rs)+len(cols)+len(repos)+len(grantKeys))
	keys = append(keys, key{tPrincipals, subjects.AnonymousCaller.String()})
	for _, u := range users {
		keys = append(keys, key{tPrincipals, subjects.OfUser(u.Name).String()}, key{tNamespaces, u.Name})
	}
	for _, a := range accounts {
		keys = append(keys, key{tPrincipals, subjects.OfServiceAccount(a.Name).String()})
	}
	for _, o := range orgs {
		keys = append(keys, key{tNamespaces, o.Name})
	}
	for _, g := range groups {
		keys = append(keys, key{tKubeGroups, g})
	}
	for _, r := range rs {
		keys = append(keys, key{tRoles, r.ID})
	}
	for _, col := range cols {
		keys = append(keys, key{tCollections, col.Path})
	}
	for _, r := range repos {
		keys = append(keys, key{tRepos, r.Namespace + "/" + r.Name})
	}
	keys = append(keys, grantKeys...)
	c.r = loaded.p
	values, err := c.entries(keys)
	if err != nil {
		return nil, err
	}
	b := newSnapshotBuilder()
	b.setObject(tOps, opsTerm().Value.(ast.Object))
	b.setAll(keys, values)
	return b.snapshot(rev), nil
}

// entries compiles the entries of keys on every core (the Reader is only
// read, and store read transactions may be read concurrently); values[i]
// is keys[i]'s entry, nil when it has none. The workers take the keys
// entriesChunk at a time, as each is free: keys come table by table, and
// their entries cost from almost nothing (a user's namespace) to a dozen
// microseconds (the user's principal, next to it), so keys dealt out in
// turn left one worker every principal and idle for the last 0.6 s of a
// start-up with enterprise-large.
func (c compiler) entries(keys []key) ([]*ast.Term, error) {
	values := make([]*ast.Term, len(keys))
	workers := runtime.GOMAXPROCS(0)
	errs := make([]error, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			c := newCompiler(c.r)
			for errs[w] == nil {
				from := int(next.Add(entriesChunk)) - entriesChunk
				if from >= len(keys) {
					return
				}
				for i := from; i < min(from+entriesChunk, len(keys)) && errs[w] == nil; i++ {
					values[i], errs[w] = c.entry(keys[i])
				}
			}
		})
	}
	wg.Wait()
	return values, errors.Join(errs...)
}

// entriesChunk is how many keys a worker of entries takes at a time.
const entriesChunk = 64

// preloaded answers the lookups a whole compile makes once per entry (the
// grants on each collection, of each subject, the teams and orgs of each
// user) from maps built by one pass over each table, and everything else
// from the Reader it wraps. With enterprise-large that turns some 200,000
// index lookups, each copying its rows, into map reads. The answers are
// the store's, in its order (TestPreloadedReaderAnswersLikeTheStore); the
// rows are shared between the answers and must not be changed.
type preloaded struct {
	Reader
	grants    []*store.Grant // all of them, in ID order
	onObject  map[subjects.Object][]*store.Grant
	ofSubject map[subjects.Subject][]*store.Grant
	teamsOf   map[string][]*store.TeamMember
	orgsOf    map[string][]*store.OrgMember
}

// preload reads the grants and the memberships of r, each on a core of
// its own.
func preload(r Reader) (*preloaded, error) {
	p := &preloaded{Reader: r}
	var membersErr error
	var wg sync.WaitGroup
	wg.Go(func() { membersErr = p.loadMemberships() })
	grantsErr := p.loadGrants()
	wg.Wait()
	if err := errors.Join(grantsErr, membersErr); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *preloaded) loadGrants() error {
	grants, err := p.Reader.Grants("", 0)
	if err != nil {
		return err
	}
	p.grants = grants
	p.onObject = make(map[subjects.Object][]*store.Grant, len(grants)/2)
	p.ofSubject = make(map[subjects.Subject][]*store.Grant, len(grants)/2)
	// The store lists grants in ID order, and its indexes by object and by
	// subject order each one's grants by ID.
	for _, g := range grants {
		p.onObject[g.Object] = append(p.onObject[g.Object], g)
		p.ofSubject[g.Subject] = append(p.ofSubject[g.Subject], g)
	}
	return nil
}

func (p *preloaded) loadMemberships() error {
	p.teamsOf, p.orgsOf = map[string][]*store.TeamMember{}, map[string][]*store.OrgMember{}
	// The store's index by user orders a user's memberships by org, then
	// team: the order of the orgs, their teams and their members here.
	orgs, err := p.Reader.Orgs("", 0)
	if err != nil {
		return err
	}
	for _, o := range orgs {
		members, err := p.Reader.OrgMembers(o.Name)
		if err != nil {
			return err
		}
		for _, m := range members {
			p.orgsOf[m.User] = append(p.orgsOf[m.User], m)
		}
		teams, err := p.Reader.Teams(o.Name)
		if err != nil {
			return err
		}
		for _, t := range teams {
			members, err := p.Reader.TeamMembers(o.Name, t.Name)
			if err != nil {
				return err
			}
			for _, m := range members {
				p.teamsOf[m.User] = append(p.teamsOf[m.User], m)
			}
		}
	}
	return nil
}

// grantKeys are the entries the grants make, those affected names for a
// change of each grant, each once: taken from the maps of the grants by
// object and by subject, they need no set of their own.
func (p *preloaded) grantKeys() []key {
	keys := make([]key, 0, 2*len(p.onObject)+len(p.ofSubject))
	for o := range p.onObject {
		if path, ok := o.CollectionPath(); ok {
			keys = append(keys, key{tSubtree, path}, key{tExact, path})
		} else {
			keys = append(keys, key{tRepoGrants, o.String()})
		}
	}
	for s, gs := range p.ofSubject {
		if slices.ContainsFunc(gs, onCollection) {
			keys = append(keys, key{tSchedule, s.String()})
		}
		if s.Kind == subjects.KubernetesServiceAccount {
			keys = append(keys, key{tPrincipals, s.String()})
		}
	}
	return keys
}

func onCollection(g *store.Grant) bool {
	_, ok := g.Object.CollectionPath()
	return ok
}

func (p *preloaded) GrantsOnObject(o subjects.Object) ([]*store.Grant, error) {
	return p.onObject[o], nil
}

func (p *preloaded) GrantsOfSubject(s subjects.Subject) ([]*store.Grant, error) {
	return p.ofSubject[s], nil
}

func (p *preloaded) TeamsOfUser(user string) ([]*store.TeamMember, error) {
	return p.teamsOf[user], nil
}

func (p *preloaded) OrgsOfUser(user string) ([]*store.OrgMember, error) {
	return p.orgsOf[user], nil
}
