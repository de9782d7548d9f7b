package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/grantd/grantd/dataset"
	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
)

// writeLoad is a background load of writes of mixed kinds at a fixed
// rate, as a busy installation sees them: grants created and revoked, team
// memberships added and removed one at a time, and LDAP-style batches
// (ten membership changes in one write, as a sync run makes them).
type writeLoad struct {
	st      *store.Store
	size    dataset.Size
	users   []string
	paths   []string
	rng     *rand.Rand
	grants  []string
	members []store.TeamMember
	seq     int
	// applied and refused count the writes; refused ones (a membership
	// already there, say) still went through raft.
	applied, refused int
}

func newWriteLoad(st *store.Store, size dataset.Size, users []string, qs []dataset.Query) *writeLoad {
	w := &writeLoad{st: st, size: size, users: users, rng: rand.New(rand.NewPCG(5, 50))}
	seen := map[string]bool{}
	for _, q := range qs {
		if q.Collection != "" && !seen[q.Collection] {
			seen[q.Collection] = true
			w.paths = append(w.paths, q.Collection)
		}
	}
	return w
}

func (w *writeLoad) member() store.TeamMember {
	return store.TeamMember{Org: fmt.Sprintf("org%d", w.rng.IntN(w.size.Orgs)), Team: fmt.Sprintf("team%d", w.rng.IntN(w.size.TeamsPerOrg)),
		User: w.users[w.rng.IntN(len(w.users))]}
}

// next is the next write, in a fixed rotation of kinds.
func (w *writeLoad) next() store.Command {
	w.seq++
	switch w.seq % 5 {
	case 0:
		id := fmt.Sprintf("bench-w%d", w.seq)
		w.grants = append(w.grants, id)
		subject := subjects.OfUser(w.users[w.rng.IntN(len(w.users))])
		if w.rng.IntN(2) == 0 {
			m := w.member()
			subject = subjects.OfTeam(m.Org, m.Team)
		}
		role := []string{roles.ViewOnly, roles.RestrictedControl, roles.FullControl}[w.rng.IntN(3)]
		return store.CreateGrant{Grant: store.Grant{ID: id, Subject: subject, Role: role,
			Object: subjects.CollectionOf(w.paths[w.rng.IntN(len(w.paths))])}}
	case 1:
		if len(w.grants) > 0 {
			id := w.grants[0]
			w.grants = w.grants[1:]
			return store.DeleteGrant{ID: id}
		}
		fallthrough
	case 2:
		m := w.member()
		w.members = append(w.members, m)
		return store.SetTeamMember{Member: m}
	case 3:
		if len(w.members) > 0 {
			m := w.members[0]
			w.members = w.members[1:]
			return store.RemoveTeamMember{Org: m.Org, Team: m.Team, User: m.User}
		}
		fallthrough
	default:
		var b store.Batch
		for i := range 10 {
			m := w.member()
			if i%2 == 0 {
				b.Commands = append(b.Commands, store.SetTeamMember{Member: m, BySync: true})
			} else {
				b.Commands = append(b.Commands, store.RemoveTeamMember{Org: m.Org, Team: m.Team, User: m.User, BySync: true})
			}
		}
		return b
	}
}

// run writes at perSecond until ctx ends.
func (w *writeLoad) run(ctx context.Context, perSecond int) {
	tick := time.NewTicker(time.Second / time.Duration(perSecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := w.st.Apply(ctx, w.next()); err != nil {
				w.refused++
			} else {
				w.applied++
			}
		}
	}
}
