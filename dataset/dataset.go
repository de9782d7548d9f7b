// Package dataset generates the reference datasets of targets.md
// ("enterprise-large" and smaller sizes of the same shape) as store
// commands, deterministically from a seed, and draws queries against them.
//
// It may import store and the domain packages; benchmarks and load tools
// use it, the server does not.
package dataset

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/grantd/grantd/subjects"

	"github.com/grantd/grantd/collections"
	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/store"
)

// Size is the shape of a dataset.
type Size struct {
	Name         string
	Users        int
	Orgs         int
	TeamsPerOrg  int
	Collections  int
	CustomRoles  int
	Grants       int
	Repositories int
}

// EnterpriseLarge is the reference dataset of targets.md.
var EnterpriseLarge = Size{Name: "enterprise-large", Users: 50000, Orgs: 500, TeamsPerOrg: 10,
	Collections: 20000, CustomRoles: 100, Grants: 100000, Repositories: 5000}

// Medium is the same shape at a tenth of the size.
var Medium = Size{Name: "medium", Users: 5000, Orgs: 50, TeamsPerOrg: 10,
	Collections: 2000, CustomRoles: 100, Grants: 10000, Repositories: 500}

// Small is the same shape at a fiftieth of the size, for smoke runs.
var Small = Size{Name: "small", Users: 1000, Orgs: 10, TeamsPerOrg: 10,
	Collections: 400, CustomRoles: 10, Grants: 2000, Repositories: 100}

// Dataset is a generated installation.
type Dataset struct {
	Size Size
	// Batches are the writes that build it, in order, each one atomic.
	Batches [][]store.Command
	// Users and the subjects each acts as, for drawing queries.
	Users      []string
	subjects   map[string][]subjects.Subject
	deep       []string                      // collections at depth >= 4
	paths      []string                      // every collection
	grantsOf   map[subjects.Subject][]string // subject -> collection paths granted to it
	repos      []string
	swarmOps   []string
	manyTeamed []string // users in 6 or more teams
}

const batchSize = 2000

// Generate builds a dataset of the given size from seed.
func Generate(size Size, seed uint64) *Dataset {
	rng := rand.New(rand.NewPCG(seed, 0x9a17d))
	d := &Dataset{Size: size, subjects: map[string][]subjects.Subject{}, grantsOf: map[subjects.Subject][]string{}}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var cmds []store.Command
	flush := func() {
		for len(cmds) > 0 {
			n := min(batchSize, len(cmds))
			d.Batches = append(d.Batches, cmds[:n])
			cmds = cmds[n:]
		}
	}
	id := 0
	nextID := func() string { id++; return fmt.Sprintf("ds%07d", id) }

	// Orgs and teams.
	var teams []string
	for o := range size.Orgs {
		org := fmt.Sprintf("org%d", o)
		cmds = append(cmds, store.CreateOrg{Org: store.Org{Name: org, CreatedAt: at}})
		for t := range size.TeamsPerOrg {
			team := fmt.Sprintf("team%d", t)
			cmds = append(cmds, store.CreateTeam{Team: store.Team{Org: org, Name: team, CreatedAt: at}})
			teams = append(teams, org+"/"+team)
		}
	}
	// Users, each in 1-10 teams (skewed towards few).
	for u := range size.Users {
		name := fmt.Sprintf("user%d", u)
		cmds = append(cmds, store.CreateUser{User: store.User{Name: name, Active: true, CreatedAt: at}, PrivateGrantID: nextID()})
		d.Users = append(d.Users, name)
		held := []subjects.Subject{subjects.OfUser(name), subjects.AnyAuthenticated}
		n := 1 + int(rng.ExpFloat64()*2.5)
		n = min(n, 10)
		seenOrg := map[string]bool{}
		for range n {
			team := teams[rng.IntN(len(teams))]
			org, tname := split(team)
			cmds = append(cmds, store.SetTeamMember{Member: store.TeamMember{Org: org, Team: tname, User: name}})
			held = append(held, subjects.OfTeam(org, tname))
			if !seenOrg[org] {
				seenOrg[org] = true
				held = append(held, subjects.OfOrg(org))
			}
		}
		if n >= 6 {
			d.manyTeamed = append(d.manyTeamed, name)
		}
		if u%50 == 0 {
			cmds = append(cmds, store.SetOrgMember{Member: store.OrgMember{Org: fmt.Sprintf("org%d", rng.IntN(size.Orgs)), User: name, IsAdmin: true}})
		}
		d.subjects[name] = held
	}
	flush()
	// Collections: trees under / and /Shared, up to depth 8, deeper
	// parents preferred so that most collections sit deep.
	d.paths = []string{collections.Root, collections.Shared}
	for c := range size.Collections {
		var parent string
		switch {
		case c < 20:
			parent = collections.Root
		case c < 30:
			parent = collections.Shared
		default:
			parent = d.paths[2+rng.IntN(len(d.paths)-2)]
			for collections.Depth(parent) >= 8 {
				parent = collections.Parent(parent)
			}
		}
		p := collections.Join(parent, fmt.Sprintf("c%d", c))
		cmds = append(cmds, store.CreateCollection{Collection: store.Collection{Path: p, Parent: parent, CreatedAt: at}})
		d.paths = append(d.paths, p)
		if collections.Depth(p) >= 4 {
			d.deep = append(d.deep, p)
		}
	}
	flush()
	// Custom roles.
	// The catalog without Kubernetes (appended last): the custom roles are
	// Swarm roles, drawn as they were before Kubernetes joined the catalog,
	// so that a size means the same dataset.
	catalog := slices.DeleteFunc(roles.Catalog(), func(o roles.Operation) bool { return o.Object == roles.Kubernetes })
	roleIDs := []string{roles.ViewOnly, roles.RestrictedControl, roles.FullControl, roles.Scheduler}
	for _, op := range catalog {
		if op.Object == roles.Swarm {
			d.swarmOps = append(d.swarmOps, op.ID)
		}
	}
	for r := range size.CustomRoles {
		var perms []roles.Permission
		seen := map[string]bool{}
		for range 5 + rng.IntN(25) {
			op := catalog[rng.IntN(len(catalog))]
			if op.Object != roles.Swarm || seen[op.ID] {
				continue
			}
			seen[op.ID] = true
			var opts []string
			for _, o := range op.Options {
				if rng.IntN(2) == 0 {
					opts = append(opts, o)
				}
			}
			perms = append(perms, roles.Permission{Operation: op.ID, Options: opts})
		}
		rid := fmt.Sprintf("role%d", r)
		cmds = append(cmds, store.CreateRole{Role: store.Role{Role: roles.Role{ID: rid, Permissions: perms}, CreatedAt: at}})
		roleIDs = append(roleIDs, rid)
	}
	flush()
	// Grants: teams 60%, users 30%, orgs 10%; 10% on high collections.
	seen := map[[3]string]bool{}
	for len(seen) < size.Grants {
		var subject subjects.Subject
		switch n := rng.IntN(10); {
		case n < 6:
			org, tname := split(teams[rng.IntN(len(teams))])
			subject = subjects.OfTeam(org, tname)
		case n < 9:
			subject = subjects.OfUser(d.Users[rng.IntN(len(d.Users))])
		default:
			subject = subjects.OfOrg(fmt.Sprintf("org%d", rng.IntN(size.Orgs)))
		}
		path := d.paths[2+rng.IntN(len(d.paths)-2)]
		if rng.IntN(10) == 0 {
			for collections.Depth(path) > 2 {
				path = collections.Parent(path)
			}
		}
		scope := store.ScopeSubtree
		if rng.IntN(10) == 0 {
			scope = store.ScopeExact
		}
		role := roleIDs[rng.IntN(len(roleIDs))]
		if triple := [3]string{subject.String(), role, path}; seen[triple] {
			continue
		} else {
			seen[triple] = true
		}
		cmds = append(cmds, store.CreateGrant{Grant: store.Grant{ID: nextID(), Subject: subject, Role: role,
			Object: subjects.CollectionOf(path), Scope: scope, CreatedAt: at}})
		d.grantsOf[subject] = append(d.grantsOf[subject], path)
	}
	flush()
	// Repositories in org namespaces, each shared with one or two of the org's teams.
	repoRoles := []string{roles.RepoReadOnly, roles.RepoReadWrite, roles.RepoAdmin}
	for r := range size.Repositories {
		org := fmt.Sprintf("org%d", rng.IntN(size.Orgs))
		name := fmt.Sprintf("repo%d", r)
		vis := store.VisibilityPrivate
		if rng.IntN(5) == 0 {
			vis = store.VisibilityPublic
		}
		cmds = append(cmds, store.CreateRepository{Repository: store.Repository{Namespace: org, Name: name, Visibility: vis, CreatedAt: at}})
		for k := range 1 + rng.IntN(2) {
			team := subjects.OfTeam(org, fmt.Sprintf("team%d", (r+k)%size.TeamsPerOrg))
			cmds = append(cmds, store.CreateGrant{Grant: store.Grant{ID: nextID(), Subject: team, Role: repoRoles[rng.IntN(3)],
				Object: subjects.RepositoryOf(org, name), Scope: store.ScopeSubtree, CreatedAt: at}})
		}
		d.repos = append(d.repos, org+"/"+name)
	}
	flush()
	return d
}

func split(team string) (string, string) {
	for i := 0; i < len(team); i++ {
		if team[i] == '/' {
			return team[:i], team[i+1:]
		}
	}
	return team, ""
}

// Query is one drawn question.
type Query struct {
	Subject                           subjects.Subject
	Operation, Collection, Repository string
	Options                           []string
}

// Queries draws n questions, deterministic from seed: users in many teams
// and deep collections over-represented, and about half aimed below
// collections the user's subjects hold grants on, so that roughly half
// allow.
func (d *Dataset) Queries(n int, seed uint64) []Query {
	rng := rand.New(rand.NewPCG(seed, 0x51ed))
	out := make([]Query, n)
	for i := range out {
		user := d.Users[rng.IntN(len(d.Users))]
		if len(d.manyTeamed) > 0 && rng.IntN(3) == 0 {
			user = d.manyTeamed[rng.IntN(len(d.manyTeamed))]
		}
		q := Query{Subject: subjects.OfUser(user), Operation: d.swarmOps[rng.IntN(len(d.swarmOps))]}
		if rng.IntN(10) == 0 && len(d.repos) > 0 {
			q.Operation = []string{"repository.pull", "repository.push", "repository.view"}[rng.IntN(3)]
			q.Repository = d.repos[rng.IntN(len(d.repos))]
			out[i] = q
			continue
		}
		q.Collection = d.deep[rng.IntN(len(d.deep))]
		if rng.IntN(2) == 0 {
			subs := d.subjects[user]
			if granted := d.grantsOf[subs[rng.IntN(len(subs))]]; len(granted) > 0 {
				q.Collection = granted[rng.IntN(len(granted))]
				q.Operation = []string{"container.view", "container.logs", "service.view", "volume.view", "container.create"}[rng.IntN(5)]
			}
		}
		out[i] = q
	}
	return out
}
