package authz

import (
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
)

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

// preload reads the grants and the memberships of r.
func preload(r Reader) (*preloaded, error) {
	grants, err := r.Grants("", 0)
	if err != nil {
		return nil, err
	}
	p := &preloaded{Reader: r, grants: grants, onObject: make(map[subjects.Object][]*store.Grant, len(grants)/2),
		ofSubject: make(map[subjects.Subject][]*store.Grant, len(grants)/2), teamsOf: map[string][]*store.TeamMember{},
		orgsOf: map[string][]*store.OrgMember{}}
	// The store lists grants in ID order, and its indexes by object and by
	// subject order each one's grants by ID.
	for _, g := range grants {
		p.onObject[g.Object] = append(p.onObject[g.Object], g)
		p.ofSubject[g.Subject] = append(p.ofSubject[g.Subject], g)
	}
	// Its index by user orders a user's memberships by org, then team: the
	// order of the orgs, their teams and their members here.
	orgs, err := r.Orgs("", 0)
	if err != nil {
		return nil, err
	}
	for _, o := range orgs {
		members, err := r.OrgMembers(o.Name)
		if err != nil {
			return nil, err
		}
		for _, m := range members {
			p.orgsOf[m.User] = append(p.orgsOf[m.User], m)
		}
		teams, err := r.Teams(o.Name)
		if err != nil {
			return nil, err
		}
		for _, t := range teams {
			members, err := r.TeamMembers(o.Name, t.Name)
			if err != nil {
				return nil, err
			}
			for _, m := range members {
				p.teamsOf[m.User] = append(p.teamsOf[m.User], m)
			}
		}
	}
	return p, nil
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
