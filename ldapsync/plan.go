package ldapsync

import (
	"fmt"
	"sort"
	"time"

	"github.com/grantd/grantd/internal/randid"
	"github.com/grantd/grantd/store"
)

// Counts are what one run changed, step by step.
type Counts struct {
	Created             int `json:"created"`
	Updated             int `json:"updated"`
	Deactivated         int `json:"deactivated"`
	Reactivated         int `json:"reactivated"`
	AdminsAdded         int `json:"adminsAdded"`
	AdminsRemoved       int `json:"adminsRemoved"`
	OrgAdminsAdded      int `json:"orgAdminsAdded"`
	OrgAdminsRemoved    int `json:"orgAdminsRemoved"`
	MembershipsAdded    int `json:"membershipsAdded"`
	MembershipsRemoved  int `json:"membershipsRemoved"`
	SkippedInvalidNames int `json:"skippedInvalidNames"`
	// SkippedNotOrgMembers counts users a team sync set by a team admin
	// did not add because they are not members of the team's org.
	SkippedNotOrgMembers int `json:"skippedNotOrgMembers"`
}

// maxWarnings bounds the warnings a report keeps.
const maxWarnings = 20

// plan is the changes one run makes, computed from what the directory said
// and what the store holds, before anything is written.
type plan struct {
	changes  []store.Command
	counts   Counts
	warnings []string
	// ldapActive is how many LDAP users were active before the run.
	ldapActive int
	// maxDeactivationPercent is the configured threshold (0: the default).
	maxDeactivationPercent int
}

// overThreshold reports whether the plan deactivates more of the active
// LDAP users than the threshold allows, and the threshold in percent.
func (p *plan) overThreshold() (bool, int) {
	percent := p.maxDeactivationPercent
	if percent == 0 {
		percent = DefaultMaxDeactivationPercent
	}
	return p.counts.Deactivated > p.ldapActive*percent/100, percent
}

func (p *plan) warn(format string, args ...any) {
	if len(p.warnings) < maxWarnings {
		p.warnings = append(p.warnings, fmt.Sprintf(format, args...))
	}
}

// makePlan computes a run's changes. With a failed search it deactivates
// nobody and removes nothing; a scoped run changes only its team or org.
func makePlan(cfg Config, opts Options, dir *directory, r *store.ReadTxn, now time.Time) (*plan, error) {
	p := &plan{counts: Counts{SkippedInvalidNames: dir.skipped}, maxDeactivationPercent: cfg.MaxDeactivationPercent}
	ldapUsers, err := r.UsersBySource(store.SourceLDAP)
	if err != nil {
		return nil, err
	}
	// accounts are the LDAP users after this run: the stored ones and those
	// it creates.
	accounts := map[string]bool{}
	for _, u := range ldapUsers {
		accounts[u.Name] = true
		if u.Active {
			p.ldapActive++
		}
	}
	removals := !dir.failed()
	if opts.scoped() {
		// A team's or org's own run neither creates nor changes accounts.
	} else if err := p.users(cfg, dir, r, ldapUsers, accounts, removals, now); err != nil {
		return nil, err
	}
	if err := p.teams(opts, dir, r, accounts, removals); err != nil {
		return nil, err
	}
	if err := p.orgAdmins(opts, dir, r, accounts, removals); err != nil {
		return nil, err
	}
	return p, nil
}

// usernames maps a selection of DNs to the usernames of the directory
// users found; nil stays nil (the selection failed).
func (d *directory) usernames(dns map[string]bool) map[string]bool {
	if dns == nil {
		return nil
	}
	out := make(map[string]bool, len(dns))
	for dn := range dns {
		if name, ok := d.byDN[dn]; ok {
			out[name] = true
		}
	}
	return out
}

// users is step 1 and 2: accounts follow the directory, and system admins
// follow the admin sync.
func (p *plan) users(cfg Config, dir *directory, r *store.ReadTxn, ldapUsers []*store.User,
	accounts map[string]bool, removals bool, now time.Time) error {
	admins := dir.usernames(dir.admins) // nil: admin sync off or failed
	stored := make(map[string]*store.User, len(ldapUsers))
	for _, u := range ldapUsers {
		stored[u.Name] = u
	}
	found := make(map[string]bool, len(dir.users))
	for _, e := range dir.users {
		found[e.Username] = true
		u := stored[e.Username]
		if u == nil {
			other, err := r.User(e.Username)
			if err != nil {
				return err
			}
			if other != nil {
				p.warn("directory user %q has the name of a local account, which stays as it is", e.Username)
				continue
			}
			if cfg.JITUserProvisioning {
				continue // accounts are made at first login
			}
			grantID, err := randid.New()
			if err != nil {
				return err
			}
			admin := admins[e.Username]
			p.changes = append(p.changes, store.CreateUser{PrivateGrantID: grantID, User: store.User{
				Name: e.Username, FullName: e.FullName, Source: store.SourceLDAP, LDAPDN: e.DN,
				Active: true, IsAdmin: admin, CreatedAt: now}})
			p.counts.Created++
			if admin {
				p.counts.AdminsAdded++
			}
			accounts[e.Username] = true
			continue
		}
		upd := store.UpdateUser{Name: u.Name, Time: now}
		changed := false
		if u.FullName != e.FullName {
			upd.FullName, changed = ptr(e.FullName), true
		}
		if u.LDAPDN != e.DN {
			upd.LDAPDN, changed = ptr(e.DN), true
		}
		if changed {
			p.counts.Updated++
		}
		if !u.Active && u.GoneFromDirectory {
			upd.Active, upd.GoneFromDirectory, changed = ptr(true), ptr(false), true
			p.counts.Reactivated++
		}
		if p.admin(&upd, u, admins, removals) {
			changed = true
		}
		if changed {
			p.changes = append(p.changes, upd)
		}
	}
	for _, u := range ldapUsers {
		if found[u.Name] {
			continue
		}
		upd := store.UpdateUser{Name: u.Name, Time: now}
		changed := false
		if !cfg.JITUserProvisioning && u.Active && removals {
			upd.Active, upd.GoneFromDirectory, changed = ptr(false), ptr(true), true
			p.counts.Deactivated++
		}
		if p.admin(&upd, u, admins, removals) {
			changed = true
		}
		if changed {
			p.changes = append(p.changes, upd)
		}
	}
	return nil
}

// admin sets upd's admin flag when the admin sync wants a change for u.
func (p *plan) admin(upd *store.UpdateUser, u *store.User, admins map[string]bool, removals bool) bool {
	if admins == nil || u.Recovery {
		return false
	}
	want := admins[u.Name]
	switch {
	case want && !u.IsAdmin:
		p.counts.AdminsAdded++
	case !want && u.IsAdmin && removals:
		p.counts.AdminsRemoved++
	default:
		return false
	}
	upd.IsAdmin = ptr(want)
	return true
}

// teams is step 3: the LDAP members of each synced team follow its group
// or search; other members are left alone.
func (p *plan) teams(opts Options, dir *directory, r *store.ReadTxn, accounts map[string]bool, removals bool) error {
	for _, key := range sortedKeys(dir.teams) {
		if opts.Team != nil && *opts.Team != key || opts.Org != "" {
			continue
		}
		want := dir.usernames(dir.teams[key])
		if want == nil {
			continue
		}
		members, err := r.TeamMembers(key.Org, key.Team)
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for _, m := range members {
			if accounts[m.User] {
				have[m.User] = true
			}
		}
		mayAdd, err := p.teamEntrants(r, key)
		if err != nil {
			return err
		}
		for _, name := range sortedSet(want) {
			if accounts[name] && !have[name] {
				if !mayAdd(name) {
					p.counts.SkippedNotOrgMembers++
					p.warn("team %s: %q is not a member of org %s, and the team's sync was set by a team admin, who cannot bring people into the org",
						key, name, key.Org)
					continue
				}
				p.changes = append(p.changes, store.SetTeamMember{BySync: true,
					Member: store.TeamMember{Org: key.Org, Team: key.Team, User: name}})
				p.counts.MembershipsAdded++
			}
		}
		if !removals {
			continue
		}
		for _, name := range sortedSet(have) {
			if !want[name] {
				p.changes = append(p.changes, store.RemoveTeamMember{BySync: true, Org: key.Org, Team: key.Team, User: name})
				p.counts.MembershipsRemoved++
			}
		}
	}
	return nil
}

// teamEntrants tells who a team's sync may add: anyone, or, for a sync
// saved by a plain team admin, only members of the team's org.
func (p *plan) teamEntrants(r *store.ReadTxn, key TeamKey) (func(string) bool, error) {
	team, err := r.Team(key.Org, key.Team)
	if err != nil {
		return nil, err
	}
	if team == nil || team.LDAPSync == nil || !team.LDAPSync.OrgMembersOnly {
		return func(string) bool { return true }, nil
	}
	members, err := r.OrgMembers(key.Org)
	if err != nil {
		return nil, err
	}
	in := make(map[string]bool, len(members))
	for _, m := range members {
		in[m.User] = true
	}
	return func(name string) bool { return in[name] }, nil
}

// orgAdmins is step 4: the LDAP admins of each org with admin sync follow
// its group or search. Users no longer selected stay members.
func (p *plan) orgAdmins(opts Options, dir *directory, r *store.ReadTxn, accounts map[string]bool, removals bool) error {
	orgs := make([]string, 0, len(dir.orgs))
	for org := range dir.orgs {
		orgs = append(orgs, org)
	}
	sort.Strings(orgs)
	for _, org := range orgs {
		if opts.Org != "" && opts.Org != org || opts.Team != nil {
			continue
		}
		want := dir.usernames(dir.orgs[org])
		if want == nil {
			continue
		}
		members, err := r.OrgMembers(org)
		if err != nil {
			return err
		}
		admin := map[string]bool{}
		for _, m := range members {
			if accounts[m.User] && m.IsAdmin {
				admin[m.User] = true
			}
		}
		for _, name := range sortedSet(want) {
			if accounts[name] && !admin[name] {
				p.changes = append(p.changes, store.SetOrgMember{BySync: true,
					Member: store.OrgMember{Org: org, User: name, IsAdmin: true}})
				p.counts.OrgAdminsAdded++
			}
		}
		if !removals {
			continue
		}
		for _, name := range sortedSet(admin) {
			if !want[name] {
				p.changes = append(p.changes, store.SetOrgMember{BySync: true,
					Member: store.OrgMember{Org: org, User: name, IsAdmin: false}})
				p.counts.OrgAdminsRemoved++
			}
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[TeamKey]map[string]bool) []TeamKey {
	out := make([]TeamKey, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}
