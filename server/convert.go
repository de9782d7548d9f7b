package server

import (
	"slices"

	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

func userPB(u *store.User) *v1.User {
	return &v1.User{Name: u.Name, FullName: u.FullName, IsAdmin: u.IsAdmin, Active: u.Active, Source: u.Source,
		LdapDn: u.LDAPDN, DefaultCollection: u.DefaultCollection, Recovery: u.Recovery,
		CreatedAt: ts(u.CreatedAt), UpdatedAt: ts(u.UpdatedAt)}
}

func orgPB(o *store.Org) *v1.Org { return &v1.Org{Name: o.Name, CreatedAt: ts(o.CreatedAt)} }

func teamPB(t *store.Team) *v1.Team {
	return &v1.Team{Org: t.Org, Name: t.Name, Description: t.Description, CreatedAt: ts(t.CreatedAt),
		KubernetesGroups: slices.Clone(t.KubernetesGroups)}
}

func orgMemberPB(m *store.OrgMember) *v1.OrgMember {
	return &v1.OrgMember{Org: m.Org, User: m.User, IsAdmin: m.IsAdmin}
}

func teamMemberPB(m *store.TeamMember) *v1.TeamMember {
	return &v1.TeamMember{Org: m.Org, Team: m.Team, User: m.User, IsAdmin: m.IsAdmin}
}

func serviceAccountPB(a *store.ServiceAccount) *v1.ServiceAccount {
	return &v1.ServiceAccount{Name: a.Name, Description: a.Description, Capabilities: a.Capabilities,
		Active: a.Active, CreatedAt: ts(a.CreatedAt)}
}

func apiTokenPB(t *store.APIToken) *v1.APIToken {
	return &v1.APIToken{Id: t.ID, Name: t.Name, Owner: t.Owner.String(), CreatedAt: ts(t.CreatedAt), ExpiresAt: ts(t.ExpiresAt)}
}

func collectionPB(c *store.Collection) *v1.Collection {
	return &v1.Collection{Path: c.Path, Parent: c.Parent, Builtin: c.Builtin, CreatedAt: ts(c.CreatedAt)}
}

func rolePB(r *store.Role) *v1.Role {
	out := &v1.Role{Name: r.ID, DisplayName: r.DisplayName, Builtin: r.Builtin, CreatedAt: ts(r.CreatedAt),
		Permissions: make([]*v1.Permission, len(r.Permissions))}
	for i, p := range r.Permissions {
		out.Permissions[i] = &v1.Permission{Operation: p.Operation, Options: p.Options}
	}
	return out
}

func operationPB(o roles.Operation) *v1.Operation {
	return &v1.Operation{Id: o.ID, DisplayName: o.DisplayName, Options: o.Options,
		ObjectKind: string(o.Object), Reserved: o.Reserved}
}

func grantPB(g *store.Grant) *v1.Grant {
	return &v1.Grant{Id: g.ID, Subject: g.Subject.String(), Role: g.Role, Object: g.Object.String(), Scope: g.Scope,
		CreatedAt: ts(g.CreatedAt), CreatedBy: g.CreatedBy}
}

func repositoryPB(r *store.Repository) *v1.Repository {
	return &v1.Repository{Namespace: r.Namespace, Name: r.Name, Visibility: r.Visibility,
		Description: r.Description, CreatedAt: ts(r.CreatedAt)}
}

func settingsPB(s *store.Settings) *v1.Settings {
	return &v1.Settings{DefaultPrivateRole: s.DefaultPrivateRole, NodeIsolation: s.NodeIsolation,
		AuditRetention: int32(s.AuditRetention),
		Sessions: &v1.SessionSettings{
			LifetimeMinutes:         int32(s.Sessions.LifetimeMinutes),
			RenewalThresholdMinutes: int32(s.Sessions.RenewalThresholdMinutes),
			PerUserLimit:            int32(s.Sessions.PerUserLimit),
		}}
}

// subjectField reads a subject a request names ("" is none): the one place
// the API turns a wire subject into a typed one. The request's Validate
// case has already checked it; a failure here is still an InvalidArgument.
func subjectField(field, in string) (subjects.Subject, error) {
	if in == "" {
		return subjects.Subject{}, nil
	}
	s, err := subjects.ParseSubject(in)
	if err != nil {
		return subjects.Subject{}, invalid("%s: %v", field, err)
	}
	return s, nil
}

// objectField reads a grant object a request names ("" is none).
func objectField(field, in string) (subjects.Object, error) {
	if in == "" {
		return subjects.Object{}, nil
	}
	o, err := subjects.ParseObject(in)
	if err != nil {
		return subjects.Object{}, invalid("%s: %v", field, err)
	}
	return o, nil
}
