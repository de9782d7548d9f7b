package reconcile

import (
	"cmp"
	"slices"

	"github.com/grantd/grantd/manifest"
	"github.com/grantd/grantd/store"
)

// orgState is an org as the store has it: its own members (user → admin)
// and its teams.
type orgState struct {
	org     *store.Org
	members map[string]bool
	// ldapAdmins are the members whose admin flag a directory sync keeps.
	ldapAdmins map[string]bool
	teams      map[string]*teamState
}

// teamState is a team and its members (user → admin); synced teams'
// members are the directory's.
type teamState struct {
	team    *store.Team
	synced  bool
	members map[string]bool
}

func currentOrg(r *store.ReadTxn, o *store.Org) (*orgState, error) {
	st := &orgState{org: o, members: map[string]bool{}, ldapAdmins: map[string]bool{}, teams: map[string]*teamState{}}
	members, err := r.OrgMembers(o.Name)
	if err != nil {
		return nil, err
	}
	adminSync := o.AdminSync != nil && o.AdminSync.Enabled
	for _, m := range members {
		st.members[m.User] = m.IsAdmin
		if adminSync {
			if u, err := r.User(m.User); err == nil && u != nil && u.Source == store.SourceLDAP {
				st.ldapAdmins[m.User] = true
			}
		}
	}
	teams, err := r.Teams(o.Name)
	if err != nil {
		return nil, err
	}
	for _, t := range teams {
		ts := &teamState{team: t, synced: t.LDAPSync != nil && t.LDAPSync.Enabled, members: map[string]bool{}}
		tm, err := r.TeamMembers(o.Name, t.Name)
		if err != nil {
			return nil, err
		}
		for _, m := range tm {
			ts.members[m.User] = m.IsAdmin
		}
		st.teams[t.Name] = ts
	}
	return st, nil
}

// asDeclared is the org as a manifest says it: the org's own members are
// its admins and those in none of its listed teams.
func (st *orgState) asDeclared() manifest.Org {
	out := manifest.Org{Name: st.org.Name}
	inTeam := map[string]bool{}
	for _, name := range sortedKeys(st.teams) {
		ts := st.teams[name]
		t := manifest.Team{Name: name, Description: ts.team.Description, KubernetesGroups: slices.Clone(ts.team.KubernetesGroups)}
		if !ts.synced {
			t.Members = membersOf(ts.members)
			for u := range ts.members {
				inTeam[u] = true
			}
		}
		out.Teams = append(out.Teams, t)
	}
	for _, m := range membersOf(st.members) {
		if st.ldapAdmins[m.User] {
			continue
		}
		if m.Admin || !inTeam[m.User] {
			out.Members = append(out.Members, m)
		}
	}
	return out
}

func membersOf(m map[string]bool) []manifest.Member {
	out := make([]manifest.Member, 0, len(m))
	for _, u := range sortedKeys(m) {
		out = append(out, manifest.Member{User: u, Admin: m[u]})
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp.Compare[string])
	return keys
}
