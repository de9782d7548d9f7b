package authz

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/grantd/grantd/collections"
	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
)

// AccessEntry is one principal who can perform an operation on an object.
type AccessEntry struct {
	// Subject is a user, a service account or the anonymous caller.
	Subject subjects.Subject
	// Via says why without a grant: "admin", "owner", "org_admin", "public".
	Via    string
	Grants []Contribution
}

// AccessReader is what WhoCan reads: the store's read view.
type AccessReader interface {
	Reader
	OrgMember(org, user string) (*store.OrgMember, error)
}

var _ AccessReader = (*store.ReadTxn)(nil)

// WhoCan lists every active principal who can perform operation (with
// options) on obj (a collection or a repository), each with
// the grants that give it, sorted by subject. It walks the grants on the
// object and its ancestors and expands their subjects through memberships:
// its cost follows those grants and their members, not the size of the
// installation.
func WhoCan(r AccessReader, obj subjects.Object, operation string, options []string) ([]AccessEntry, error) {
	op, ok := roles.Lookup(operation)
	if !ok {
		return nil, errors.New(roles.UnknownOperation(operation))
	}
	for _, o := range options {
		if !op.HasOption(o) {
			return nil, fmt.Errorf("operation %s has no option %q", operation, o)
		}
	}
	w := &whoCan{r: r, op: op, options: options, found: map[subjects.Subject]*found{}}
	var err error
	switch {
	case obj.Kind == subjects.CollectionObject && op.Object == roles.Swarm:
		err = w.collection(obj.Path)
	case obj.Kind == subjects.RepositoryObject && op.Object == roles.Repository:
		err = w.repository(obj.Path)
	default:
		return nil, fmt.Errorf("operation %s does not apply to %s", operation, obj)
	}
	if err != nil {
		return nil, err
	}
	if err := w.admins(); err != nil {
		return nil, err
	}
	return w.result()
}

type found struct {
	via     string
	grants  []Contribution
	options map[string]bool
}

type whoCan struct {
	r       AccessReader
	op      roles.Operation
	options []string
	found   map[subjects.Subject]*found
	members map[subjects.Subject][]subjects.Subject // subject -> principals, memoized
}

func (w *whoCan) entry(principal subjects.Subject) *found {
	f, ok := w.found[principal]
	if !ok {
		f = &found{options: map[string]bool{}}
		w.found[principal] = f
	}
	return f
}

func (w *whoCan) collection(path string) error {
	if c, err := w.r.Collection(path); err != nil || c == nil {
		return orMissing(err, "collection %s does not exist", path)
	}
	for i, a := range collections.Ancestors(path) {
		gs, err := w.r.GrantsOnObject(subjects.CollectionOf(a))
		if err != nil {
			return err
		}
		for _, g := range gs {
			if i > 0 && g.Scope == store.ScopeExact {
				continue
			}
			if err := w.grant(g); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *whoCan) repository(full string) error {
	ns, name, _ := strings.Cut(full, "/")
	repo, err := w.r.Repository(ns, name)
	if err != nil || repo == nil {
		return orMissing(err, "repository %s does not exist", full)
	}
	if repo.Visibility == store.VisibilityPublic && (w.op.ID == "repository.view" || w.op.ID == "repository.pull") {
		everyone, err := w.principalsOf(subjects.AnyAuthenticated)
		if err != nil {
			return err
		}
		for _, p := range append(everyone, subjects.AnonymousCaller) {
			w.entry(p).via = "public"
		}
	}
	if u, err := w.r.User(ns); err != nil {
		return err
	} else if u != nil && u.Active {
		w.entry(subjects.OfUser(ns)).via = "owner"
	}
	if members, err := w.r.OrgMembers(ns); err != nil {
		return err
	} else {
		for _, m := range members {
			if m.IsAdmin {
				w.entry(subjects.OfUser(m.User)).via = "org_admin"
			}
		}
	}
	if w.op.Reserved {
		return nil
	}
	for _, object := range []subjects.Object{subjects.RepositoryOf(ns, name), subjects.NamespaceOf(ns)} {
		gs, err := w.r.GrantsOnObject(object)
		if err != nil {
			return err
		}
		for _, g := range gs {
			if err := w.grant(g); err != nil {
				return err
			}
		}
	}
	return nil
}

// grant credits every principal behind g's subject with what g's role
// holds of the operation.
func (w *whoCan) grant(g *store.Grant) error {
	role, err := w.r.Role(g.Role)
	if err != nil || role == nil {
		return err
	}
	var held []string
	holdsOp := false
	for _, p := range role.Permissions {
		if p.Operation == w.op.ID {
			holdsOp, held = true, p.Options
		}
	}
	if !holdsOp {
		return nil
	}
	principals, err := w.principalsOf(g.Subject)
	if err != nil {
		return err
	}
	for _, p := range principals {
		f := w.entry(p)
		f.grants = append(f.grants, Contribution{GrantID: g.ID, Subject: g.Subject, SubjectPath: pathTo(p, g.Subject),
			Role: g.Role, Object: g.Object, Scope: g.Scope})
		for _, o := range held {
			f.options[o] = true
		}
	}
	return nil
}

func pathTo(principal, subject subjects.Subject) string {
	if principal == subject {
		return principal.String()
	}
	return principal.String() + " → " + subject.String()
}

// principalsOf expands a grant subject into the principals it covers.
func (w *whoCan) principalsOf(s subjects.Subject) ([]subjects.Subject, error) {
	if ps, ok := w.members[s]; ok {
		return ps, nil
	}
	var out []subjects.Subject
	switch s.Kind {
	case subjects.User, subjects.ServiceAccount:
		out = []subjects.Subject{s}
	case subjects.Team:
		ms, err := w.r.TeamMembers(s.Name, s.Team)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			out = append(out, subjects.OfUser(m.User))
		}
	case subjects.Org:
		ms, err := w.r.OrgMembers(s.Name)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			out = append(out, subjects.OfUser(m.User))
		}
	case subjects.Authenticated:
		users, err := w.r.Users("", "", 0)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			out = append(out, subjects.OfUser(u.Name))
		}
		sas, err := w.r.ServiceAccounts("", 0)
		if err != nil {
			return nil, err
		}
		for _, a := range sas {
			out = append(out, subjects.OfServiceAccount(a.Name))
		}
	}
	if w.members == nil {
		w.members = map[subjects.Subject][]subjects.Subject{}
	}
	w.members[s] = out
	return out, nil
}

func (w *whoCan) admins() error {
	users, err := w.r.Users("", "", 0)
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.IsAdmin {
			w.entry(subjects.OfUser(u.Name)).via = "admin"
		}
	}
	return nil
}

// result keeps active principals whose grants cover the options asked for.
func (w *whoCan) result() ([]AccessEntry, error) {
	var out []AccessEntry
	for p, f := range w.found {
		ok, err := w.active(p)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if f.via == "" {
			if len(f.grants) == 0 {
				continue
			}
			covered := true
			for _, o := range w.options {
				covered = covered && f.options[o]
			}
			if !covered {
				continue
			}
		}
		sort.Slice(f.grants, func(i, j int) bool { return f.grants[i].GrantID < f.grants[j].GrantID })
		out = append(out, AccessEntry{Subject: p, Via: f.via, Grants: f.grants})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Subject.String() < out[j].Subject.String() })
	return out, nil
}

func (w *whoCan) active(principal subjects.Subject) (bool, error) {
	switch principal.Kind {
	case subjects.User:
		u, err := w.r.User(principal.Name)
		return u != nil && u.Active, err
	case subjects.ServiceAccount:
		a, err := w.r.ServiceAccount(principal.Name)
		return a != nil && a.Active, err
	}
	return principal == subjects.AnonymousCaller, nil
}

// ErrNotFound marks audit queries about objects that do not exist.
var ErrNotFound = errors.New("not found")

func orMissing(err error, format string, args ...any) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: %s", ErrNotFound, fmt.Sprintf(format, args...))
}
