package authz

import (
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
)

// Reader is the narrow view of the store the decision engine compiles from.
// It only reads, and the compiler never changes a row it gets: it reads
// the store's own rows, not copies (readOnly).
type Reader interface {
	Revision() uint64
	User(name string) (*store.User, error)
	Users(prefix, after string, limit int) ([]*store.User, error)
	TeamsOfUser(user string) ([]*store.TeamMember, error)
	OrgsOfUser(user string) ([]*store.OrgMember, error)
	ServiceAccount(name string) (*store.ServiceAccount, error)
	ServiceAccounts(after string, limit int) ([]*store.ServiceAccount, error)
	Org(name string) (*store.Org, error)
	Orgs(after string, limit int) ([]*store.Org, error)
	OrgMembers(org string) ([]*store.OrgMember, error)
	KubernetesGroups() ([]string, error)
	TeamsOfKubernetesGroup(group string) ([]*store.Team, error)
	Teams(org string) ([]*store.Team, error)
	TeamMembers(org, team string) ([]*store.TeamMember, error)
	Collection(path string) (*store.Collection, error)
	Collections(after string, limit int) ([]*store.Collection, error)
	Role(id string) (*store.Role, error)
	Roles() ([]*store.Role, error)
	Grant(id string) (*store.Grant, error)
	Grants(after string, limit int) ([]*store.Grant, error)
	GrantsOnObject(object subjects.Object) ([]*store.Grant, error)
	GrantsOfSubject(subject subjects.Subject) ([]*store.Grant, error)
	Repository(namespace, name string) (*store.Repository, error)
	AllRepositories() ([]*store.Repository, error)
}

var _ Reader = (*store.ReadTxn)(nil)

// readOnly is r as the compiler reads it: a store view returns the store's
// own rows instead of copies (store.ReadTxn.SharedRows), since the
// compiler never changes one; a full compile reads every row.
func readOnly(r Reader) Reader {
	if t, ok := r.(*store.ReadTxn); ok {
		return t.SharedRows()
	}
	return r
}
