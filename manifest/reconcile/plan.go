package reconcile

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grantd/grantd/collections"
	"github.com/grantd/grantd/manifest"
	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
)

// Options are how a manifest is applied.
type Options struct {
	// Prune removes what the manifest owns and does not list.
	Prune bool
	Now   time.Time
	// NewID makes the IDs of new grants.
	NewID func() (string, error)
}

// Plan is what applying a manifest does: its changes, and the commands
// that make them, all applied together as one write.
type Plan struct {
	Changes  []manifest.Change
	Commands []store.Command
	// changeOf[i] is the index of the change command i makes.
	changeOf []int
}

// ChangeOf is the change the i-th command makes.
func (p *Plan) ChangeOf(i int) manifest.Change {
	if i < 0 || i >= len(p.changeOf) {
		return manifest.Change{}
	}
	return p.Changes[p.changeOf[i]]
}

// Diff plans the writes that make r's state what d says.
func Diff(r *store.ReadTxn, d *manifest.Document, o Options) (*Plan, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	p := &planner{r: r, d: d, o: o, plan: &Plan{}}
	for _, step := range []func() error{p.roles, p.settings, p.users, p.serviceAccounts, p.orgs, p.collections,
		p.repositories, p.grants} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if o.Prune && d.Owns != nil {
		for _, step := range []func() error{p.pruneGrants, p.pruneRepositories, p.pruneMembers, p.pruneTeams, p.pruneOrgs,
			p.pruneCollections, p.pruneRoles, p.pruneServiceAccounts, p.pruneUsers} {
			if err := step(); err != nil {
				return nil, err
			}
		}
	}
	return p.plan, nil
}

type planner struct {
	r    *store.ReadTxn
	d    *manifest.Document
	o    Options
	plan *Plan
	// orgStates are the declared orgs' current state.
	orgStates map[string]*orgState
	// grantsByKey are the store's grants (currentGrants).
	grantsByKey map[string]*store.Grant
}

// add plans a change made by its commands.
func (p *planner) add(c store.Command, action, kind, name, detail string, more ...store.Command) {
	p.plan.Changes = append(p.plan.Changes, manifest.Change{Action: action, Kind: kind, Name: name, Detail: detail})
	for _, cmd := range append([]store.Command{c}, more...) {
		p.plan.Commands = append(p.plan.Commands, cmd)
		p.plan.changeOf = append(p.plan.changeOf, len(p.plan.Changes)-1)
	}
}

// roles creates the custom roles the store lacks. A role whose
// permissions differ is replaced in the same write: the grants that use it
// are taken off, the role made anew, and the grants put back, with their
// IDs.
func (p *planner) roles() error {
	for _, want := range p.d.Roles {
		have, err := p.r.Role(want.ID)
		if err != nil {
			return err
		}
		role := store.Role{Role: roles.Role{ID: want.ID, DisplayName: want.Name, Permissions: manifest.PermissionsOf(want)}, CreatedAt: p.o.Now}
		switch {
		case have == nil:
			p.add(store.CreateRole{Role: role}, "create", "role", want.ID, "")
		case have.Builtin:
			return fmt.Errorf("role %s is built in: a manifest lists custom roles only", want.ID)
		case !sameRole(roleOf(have), want):
			if err := p.replaceRole(role); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *planner) replaceRole(role store.Role) error {
	grants, err := p.r.GrantsOfRole(role.ID, "", 0)
	if err != nil {
		return err
	}
	var cmds []store.Command
	for _, g := range grants {
		cmds = append(cmds, store.DeleteGrant{ID: g.ID})
	}
	cmds = append(cmds, store.DeleteRole{ID: role.ID}, store.CreateRole{Role: role})
	for _, g := range grants {
		cmds = append(cmds, store.CreateGrant{Grant: *g})
	}
	p.add(cmds[0], "update", "role", role.ID, fmt.Sprintf("permissions changed; its %d grants stay", len(grants)), cmds[1:]...)
	return nil
}

func sameRole(a, b manifest.Role) bool {
	norm := func(r manifest.Role) []string {
		var out []string
		for _, p := range r.Permissions {
			opts := slices.Clone(p.Options)
			slices.Sort(opts)
			out = append(out, p.Operation+"="+strings.Join(opts, ","))
		}
		slices.Sort(out)
		return out
	}
	return (a.Name == b.Name || b.Name == "") && slices.Equal(norm(a), norm(b))
}

func (p *planner) settings() error {
	if p.d.Settings == nil {
		return nil
	}
	have, err := p.r.Settings()
	if err != nil {
		return err
	}
	want := store.Settings{DefaultPrivateRole: p.d.Settings.DefaultPrivateRole, NodeIsolation: p.d.Settings.NodeIsolation,
		AuditRetention: p.d.Settings.AuditRetention, Sessions: store.SessionSettings{LifetimeMinutes: p.d.Settings.Sessions.LifetimeMinutes,
			RenewalThresholdMinutes: p.d.Settings.Sessions.RenewalThresholdMinutes, PerUserLimit: p.d.Settings.Sessions.PerUserLimit}}
	if have != nil {
		want.ID = have.ID
		if *have == want {
			return nil
		}
	}
	p.add(store.UpdateSettings{Settings: want}, "update", "settings", "settings", "")
	return nil
}

func (p *planner) users() error {
	for _, want := range p.d.Users {
		have, err := p.r.User(want.Name)
		if err != nil {
			return err
		}
		switch {
		case have == nil:
			id, err := p.o.NewID()
			if err != nil {
				return err
			}
			u := store.User{Name: want.Name, FullName: want.FullName, IsAdmin: want.Admin, Active: !want.Inactive,
				Source: store.SourceLocal, CreatedAt: p.o.Now}
			p.add(store.CreateUser{User: u, PrivateGrantID: id}, "create", "user", want.Name, "")
		case !managedUser(have):
			// The recovery admin and directory users are not a manifest's
			// to change; listing them only says they exist.
		case have.FullName != want.FullName || have.IsAdmin != want.Admin || have.Active == want.Inactive:
			full, admin, active := want.FullName, want.Admin, !want.Inactive
			p.add(store.UpdateUser{Name: want.Name, FullName: &full, IsAdmin: &admin, Active: &active, Time: p.o.Now},
				"update", "user", want.Name, "")
		}
	}
	return nil
}

func (p *planner) serviceAccounts() error {
	for _, want := range p.d.ServiceAccounts {
		have, err := p.r.ServiceAccount(want.Name)
		if err != nil {
			return err
		}
		caps := slices.Clone(want.Capabilities)
		slices.Sort(caps)
		switch {
		case have == nil:
			a := store.ServiceAccount{Name: want.Name, Description: want.Description, Capabilities: caps, Active: !want.Inactive, CreatedAt: p.o.Now}
			p.add(store.CreateServiceAccount{Account: a}, "create", "service account", want.Name, "")
		default:
			haveCaps := slices.Clone(have.Capabilities)
			slices.Sort(haveCaps)
			if have.Description != want.Description || !slices.Equal(haveCaps, caps) || have.Active == want.Inactive {
				desc, active := want.Description, !want.Inactive
				p.add(store.UpdateServiceAccount{Name: want.Name, Description: &desc, Capabilities: &caps, Active: &active},
					"update", "service account", want.Name, "")
			}
		}
	}
	return nil
}

// orgs creates the orgs and teams the store lacks, updates teams, and
// adds or changes memberships.
func (p *planner) orgs() error {
	p.orgStates = map[string]*orgState{}
	for _, want := range p.d.Orgs {
		have, err := p.r.Org(want.Name)
		if err != nil {
			return err
		}
		var st *orgState
		if have == nil {
			p.add(store.CreateOrg{Org: store.Org{Name: want.Name, CreatedAt: p.o.Now}}, "create", "org", want.Name, "")
			st = &orgState{org: &store.Org{Name: want.Name}, members: map[string]bool{}, ldapAdmins: map[string]bool{}, teams: map[string]*teamState{}}
		} else if st, err = currentOrg(p.r, have); err != nil {
			return err
		}
		p.orgStates[want.Name] = st
		for _, m := range want.Members {
			if admin, ok := st.members[m.User]; (!ok || admin != m.Admin) && !st.ldapAdmins[m.User] {
				p.add(store.SetOrgMember{Member: store.OrgMember{Org: want.Name, User: m.User, IsAdmin: m.Admin}},
					"update", "org member", want.Name+"/"+m.User, fmt.Sprintf("admin: %v", m.Admin))
			}
		}
		for _, t := range want.Teams {
			if err := p.team(want.Name, st, t); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *planner) team(org string, st *orgState, want manifest.Team) error {
	name := org + "/" + want.Name
	ts := st.teams[want.Name]
	groups := slices.Clone(want.KubernetesGroups)
	slices.Sort(groups)
	switch {
	case ts == nil:
		t := store.Team{Org: org, Name: want.Name, Description: want.Description, KubernetesGroups: groups, CreatedAt: p.o.Now}
		p.add(store.CreateTeam{Team: t}, "create", "team", name, "")
		ts = &teamState{members: map[string]bool{}}
	default:
		haveGroups := slices.Clone(ts.team.KubernetesGroups)
		slices.Sort(haveGroups)
		if ts.team.Description != want.Description || !slices.Equal(haveGroups, groups) {
			desc := want.Description
			p.add(store.UpdateTeam{Org: org, Name: want.Name, Description: &desc, KubernetesGroups: &groups}, "update", "team", name, "")
		}
	}
	if ts.synced && len(want.Members) > 0 {
		return fmt.Errorf("team %s is synced from the directory: its members are the directory's, not the manifest's", name)
	}
	for _, m := range want.Members {
		if admin, ok := ts.members[m.User]; !ok || admin != m.Admin {
			p.add(store.SetTeamMember{Member: store.TeamMember{Org: org, Team: want.Name, User: m.User, IsAdmin: m.Admin}},
				"update", "team member", name+"/"+m.User, fmt.Sprintf("admin: %v", m.Admin))
		}
	}
	return nil
}

// parentsFirst orders collection paths by depth, then by name.
func parentsFirst(a, b string) int {
	if da, db := collections.Depth(a), collections.Depth(b); da != db {
		return da - db
	}
	return strings.Compare(a, b)
}

// collections creates the collections the store lacks, parents first.
func (p *planner) collections() error {
	paths := make([]string, 0, len(p.d.Collections))
	for _, c := range p.d.Collections {
		paths = append(paths, c.Path)
	}
	slices.SortFunc(paths, parentsFirst)
	for _, path := range paths {
		have, err := p.r.Collection(path)
		if err != nil {
			return err
		}
		if have == nil {
			p.add(store.CreateCollection{Collection: store.Collection{Path: path, CreatedAt: p.o.Now}}, "create", "collection", path, "")
		}
	}
	return nil
}

func (p *planner) repositories() error {
	for _, want := range p.d.Repositories {
		name := want.Namespace + "/" + want.Name
		vis := want.Visibility
		if vis == "" {
			vis = store.VisibilityPrivate
		}
		have, err := p.r.Repository(want.Namespace, want.Name)
		if err != nil {
			return err
		}
		switch {
		case have == nil:
			p.add(store.CreateRepository{Repository: store.Repository{Namespace: want.Namespace, Name: want.Name, Visibility: vis,
				Description: want.Description, CreatedAt: p.o.Now}}, "create", "repository", name, "")
		case have.Visibility != vis || have.Description != want.Description:
			desc := want.Description
			p.add(store.UpdateRepository{Namespace: want.Namespace, Name: want.Name, Visibility: &vis, Description: &desc},
				"update", "repository", name, "")
		}
	}
	return nil
}

// grants creates the grants the store lacks; a grant is known by its
// subject, role, object and scope.
func (p *planner) grants() error {
	have, err := p.currentGrants()
	if err != nil {
		return err
	}
	for _, want := range p.d.Grants {
		if _, ok := have[manifest.GrantKey(want)]; ok {
			continue
		}
		id, err := p.o.NewID()
		if err != nil {
			return err
		}
		s, _ := subjects.ParseSubject(want.Subject)
		obj, _ := subjects.ParseObject(want.Object)
		scope := want.Scope
		if scope == "" {
			scope = store.ScopeSubtree
		}
		g := store.Grant{ID: id, Subject: s, Role: want.Role, Object: obj, Scope: scope, CreatedAt: p.o.Now, CreatedBy: "manifest"}
		p.add(store.CreateGrant{Grant: g}, "create", "grant", manifest.GrantKey(want), "")
	}
	return nil
}

// currentGrants are the store's grants by key, but those grantd made;
// read once per plan (creating and pruning both compare with them).
func (p *planner) currentGrants() (map[string]*store.Grant, error) {
	if p.grantsByKey != nil {
		return p.grantsByKey, nil
	}
	grants, err := p.r.Grants("", 0)
	if err != nil {
		return nil, err
	}
	p.grantsByKey = make(map[string]*store.Grant, len(grants))
	for _, g := range grants {
		if !madeByGrantd(g) {
			p.grantsByKey[manifest.GrantKey(grantOf(g))] = g
		}
	}
	return p.grantsByKey, nil
}
