package store

import (
	"fmt"

	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/subjects"
)

// CreateGrant creates a grant after checking that its subject, role and
// object exist and fit together.
type CreateGrant struct {
	Grant Grant `json:"grant"`
}

func (CreateGrant) kind() commandKind { return kindCreateGrant }

func (c CreateGrant) describe() (action, object string, after any) {
	return "grant.create", c.Grant.Object.String(), c.Grant
}

func (c CreateGrant) apply(tx *writeTxn) error {
	g := c.Grant
	if g.ID == "" {
		return fmt.Errorf("%w: grant without an ID", ErrInvalid)
	}
	subject, object := g.Subject, g.Object
	if g.Scope == "" {
		g.Scope = ScopeSubtree
	}
	if g.Scope != ScopeSubtree && g.Scope != ScopeExact {
		return fmt.Errorf("%w: scope %q is neither %s nor %s", ErrInvalid, g.Scope, ScopeSubtree, ScopeExact)
	}
	if err := tx.subjectExists(subject); err != nil {
		return err
	}
	row, err := tx.mustExist("role", tableRoles, g.Role)
	if err != nil {
		return err
	}
	kind, err := grantKind(row.(*Role), object)
	if err != nil {
		return err
	}
	if subject.Kind == subjects.KubernetesServiceAccount && kind != roles.Kubernetes {
		return fmt.Errorf("%w: a Kubernetes service account holds Kubernetes grants only (a role of Kubernetes operations on a namespace)", ErrInvalid)
	}
	if kind == roles.Kubernetes {
		// Kubernetes namespaces live in the cluster, not in grantd: the
		// name is all there is to check.
		if object.Path != subjects.AllNamespaces {
			if err := subjects.ValidKubernetesNamespace(object.Path); err != nil {
				return fmt.Errorf("%w: %w", ErrInvalid, err)
			}
		}
	} else {
		if err := tx.objectExists(object); err != nil {
			return err
		}
		if err := tx.checkSharing(subject, object); err != nil {
			return err
		}
	}
	if err := tx.mustNotExist("grant", tableGrants, g.ID); err != nil {
		return err
	}
	if dup, err := tx.sameGrant(g); err != nil {
		return err
	} else if dup != nil {
		return fmt.Errorf("%w: %s already holds %s on %s (grant %s)", ErrAlreadyExists, g.Subject, g.Role, g.Object, dup.ID)
	}
	g.CreatedAt = stamp(g.CreatedAt)
	return tx.Insert(tableGrants, &g)
}

// sameGrant returns the grant of g's subject, role and object, if any
// (among the subject's grants, which are few).
func (tx *writeTxn) sameGrant(g Grant) (*Grant, error) {
	it, err := tx.Get(tableGrants, indexSubject, g.Subject)
	if err != nil {
		return nil, err
	}
	for row := it.Next(); row != nil; row = it.Next() {
		if h := row.(*Grant); h.Role == g.Role && h.Object == g.Object {
			return h, nil
		}
	}
	return nil, nil
}

// DeleteGrant deletes one grant.
type DeleteGrant struct {
	ID string `json:"id"`
}

func (DeleteGrant) kind() commandKind { return kindDeleteGrant }

func (c DeleteGrant) describe() (action, object string, after any) {
	return "grant.delete", "grant:" + c.ID, nil
}

func (c DeleteGrant) before(tx *writeTxn) (any, error) { return tx.get(tableGrants, c.ID) }

func (c DeleteGrant) apply(tx *writeTxn) error {
	row, err := tx.mustExist("grant", tableGrants, c.ID)
	if err != nil {
		return err
	}
	return tx.Delete(tableGrants, row)
}

// grantKind is the kind of operations a grant of role on object reaches:
// Swarm on collections, repository operations on repositories; on a
// namespace object, the registry namespace or the Kubernetes namespace of
// that name, whichever the role's operations are for (a role with both
// would reach two unrelated things at once, and is refused).
func grantKind(role *Role, object subjects.Object) (roles.ObjectKind, error) {
	var kind roles.ObjectKind
	switch {
	case object.Kind == subjects.CollectionObject:
		kind = roles.Swarm
	case object.Kind == subjects.RepositoryObject:
		kind = roles.Repository
	case role.AppliesTo(roles.Kubernetes) && role.AppliesTo(roles.Repository):
		return "", fmt.Errorf("%w: role %q holds both repository and Kubernetes operations; a grant on %s reaches either the registry namespace or the Kubernetes namespace, so split the role", ErrInvalid, role.ID, object)
	case role.AppliesTo(roles.Kubernetes):
		return roles.Kubernetes, nil
	case object.Path == subjects.AllNamespaces:
		return "", fmt.Errorf("%w: %s is the Kubernetes cluster object; role %q has no Kubernetes operation", ErrInvalid, object, role.ID)
	default:
		kind = roles.Repository
	}
	if !role.AppliesTo(kind) {
		return "", fmt.Errorf("%w: role %q has no operation that applies to %s", ErrInvalid, role.ID, object)
	}
	return kind, nil
}

func (tx *writeTxn) subjectExists(s subjects.Subject) error {
	var err error
	switch s.Kind {
	case subjects.User:
		_, err = tx.mustExist("user", tableUsers, s.Name)
	case subjects.ServiceAccount:
		_, err = tx.mustExist("service account", tableServiceAccounts, s.Name)
	case subjects.Org:
		_, err = tx.mustExist("org", tableOrgs, s.Name)
	case subjects.Team:
		_, err = tx.mustExist("team", tableTeams, s.Name, s.Team)
	case subjects.Authenticated, subjects.Anonymous, subjects.KubernetesServiceAccount:
	default:
		err = fmt.Errorf("%w: %q is not a subject", ErrInvalid, s)
	}
	return err
}

func (tx *writeTxn) objectExists(o subjects.Object) error {
	switch o.Kind {
	case subjects.CollectionObject:
		_, err := tx.mustExist("collection", tableCollections, o.Path)
		return err
	case subjects.RepositoryObject:
		ns, name := splitRepository(o.Path)
		_, err := tx.mustExist("repository", tableRepositories, ns, name)
		return err
	default:
		_, err := tx.namespaceOwner(o.Path)
		return err
	}
}

// namespaceOwner tells whether a registry namespace belongs to a user or an org.
func (tx *writeTxn) namespaceOwner(ns string) (subjects.Kind, error) {
	if u, err := tx.get(tableUsers, ns); err != nil || u != nil {
		return subjects.User, err
	}
	if o, err := tx.get(tableOrgs, ns); err != nil || o != nil {
		return subjects.Org, err
	}
	return "", fmt.Errorf("%w: namespace %q is neither a user nor an org", ErrNotFound, ns)
}

// checkSharing enforces who repositories may be shared with: repositories of
// a user namespace with individual users only, those of an org namespace
// with that org's teams only.
func (tx *writeTxn) checkSharing(s subjects.Subject, o subjects.Object) error {
	if o.Kind == subjects.CollectionObject {
		return nil
	}
	ns, _ := splitRepository(o.Path)
	owner, err := tx.namespaceOwner(ns)
	if err != nil {
		return err
	}
	switch {
	case owner == subjects.User && s.Kind != subjects.User:
		return fmt.Errorf("%w: repositories of user namespace %q are shared with individual users only", ErrInvalid, ns)
	case owner == subjects.Org && (s.Kind != subjects.Team || s.Name != ns):
		return fmt.Errorf("%w: repositories of org namespace %q are shared with that org's teams only", ErrInvalid, ns)
	}
	return nil
}

// splitRepository splits "<namespace>/<name>"; a bare namespace gives ("ns", "").
func splitRepository(full string) (string, string) {
	for i := 0; i < len(full); i++ {
		if full[i] == '/' {
			return full[:i], full[i+1:]
		}
	}
	return full, ""
}
