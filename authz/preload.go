package authz

import (
	"errors"
	"sync"

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
