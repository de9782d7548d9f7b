package store

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/grantd/grantd/subjects"
)

// CreateOrg creates an organization.
type CreateOrg struct {
	Org Org `json:"org"`
}

func (CreateOrg) kind() commandKind { return kindCreateOrg }

func (c CreateOrg) describe() (action, object string, after any) {
	return "org.create", subjects.OfOrg(c.Org.Name).String(), c.Org
}

func (c CreateOrg) apply(tx *writeTxn) error {
	o := c.Org
	if err := tx.mustNotExist("org", tableOrgs, o.Name); err != nil {
		return err
	}
	if err := tx.mustNotExist("user with the same namespace as org", tableUsers, o.Name); err != nil {
		return err
	}
	o.CreatedAt = stamp(o.CreatedAt)
	return tx.Insert(tableOrgs, &o)
}

// DeleteOrg removes an org with its teams, memberships and the grants held
// by the org and its teams. An org that still owns repositories is kept.
type DeleteOrg struct {
	Name string `json:"name"`
}

func (DeleteOrg) kind() commandKind { return kindDeleteOrg }

func (c DeleteOrg) describe() (action, object string, after any) {
	return "org.delete", subjects.OfOrg(c.Name).String(), nil
}

func (c DeleteOrg) apply(tx *writeTxn) error {
	row, err := tx.mustExist("org", tableOrgs, c.Name)
	if err != nil {
		return err
	}
	if repos, err := tx.all(tableRepositories, indexIDPrefix, leading(c.Name)...); err != nil {
		return err
	} else if len(repos) > 0 {
		return fmt.Errorf("%w: org %q owns %d repositories; delete them first", ErrConflict, c.Name, len(repos))
	}
	teams, err := tx.all(tableTeams, indexIDPrefix, leading(c.Name)...)
	if err != nil {
		return err
	}
	for _, t := range teams {
		if err := (DeleteTeam{Org: c.Name, Name: t.(*Team).Name}).apply(tx); err != nil {
			return err
		}
	}
	if _, err := tx.DeleteAll(tableOrgMembers, indexIDPrefix, leading(c.Name)...); err != nil {
		return err
	}
	if _, err := tx.DeleteAll(tableGrants, indexSubject, subjects.OfOrg(c.Name)); err != nil {
		return err
	}
	return tx.Delete(tableOrgs, row)
}

// CreateTeam creates a team inside an existing org.
type CreateTeam struct {
	Team Team `json:"team"`
}

func (CreateTeam) kind() commandKind { return kindCreateTeam }

func (c CreateTeam) describe() (action, object string, after any) {
	return "team.create", subjects.OfTeam(c.Team.Org, c.Team.Name).String(), c.Team
}

func (c CreateTeam) apply(tx *writeTxn) error {
	t := c.Team
	if _, err := tx.mustExist("org", tableOrgs, t.Org); err != nil {
		return err
	}
	if err := tx.mustNotExist("team", tableTeams, t.Org, t.Name); err != nil {
		return err
	}
	groups, err := validKubernetesGroups(t.KubernetesGroups)
	if err != nil {
		return err
	}
	t.KubernetesGroups = groups
	t.CreatedAt = stamp(t.CreatedAt)
	return tx.Insert(tableTeams, &t)
}

// MaxKubernetesGroups bounds the Kubernetes groups of one team.
const MaxKubernetesGroups = 20

// validKubernetesGroups checks and normalizes (sorts, dedups) a team's
// Kubernetes groups: 1-256 printable characters each, and none of
// Kubernetes' own system: groups, which every user or component of a kind
// holds (mapping system:authenticated would hand the team to everyone).
func validKubernetesGroups(groups []string) ([]string, error) {
	if len(groups) > MaxKubernetesGroups {
		return nil, fmt.Errorf("%w: a team maps at most %d Kubernetes groups", ErrInvalid, MaxKubernetesGroups)
	}
	for _, g := range groups {
		if g == "" || len(g) > 256 || !utf8.ValidString(g) || strings.IndexFunc(g, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
			return nil, fmt.Errorf("%w: Kubernetes group %q must be 1-256 printable characters", ErrInvalid, g)
		}
		if strings.HasPrefix(g, "system:") {
			return nil, fmt.Errorf("%w: Kubernetes group %q is one of Kubernetes' own system: groups", ErrInvalid, g)
		}
	}
	if len(groups) == 0 {
		return nil, nil
	}
	out := slices.Clone(groups)
	slices.Sort(out)
	return slices.Compact(out), nil
}

// DeleteTeam removes a team with its memberships and grants.
type DeleteTeam struct {
	Org  string `json:"org"`
	Name string `json:"name"`
}

func (DeleteTeam) kind() commandKind { return kindDeleteTeam }

func (c DeleteTeam) describe() (action, object string, after any) {
	return "team.delete", subjects.OfTeam(c.Org, c.Name).String(), nil
}

func (c DeleteTeam) apply(tx *writeTxn) error {
	row, err := tx.mustExist("team", tableTeams, c.Org, c.Name)
	if err != nil {
		return err
	}
	if _, err := tx.DeleteAll(tableTeamMembers, indexIDPrefix, leading(c.Org, c.Name)...); err != nil {
		return err
	}
	if _, err := tx.DeleteAll(tableGrants, indexSubject, subjects.OfTeam(c.Org, c.Name)); err != nil {
		return err
	}
	return tx.Delete(tableTeams, row)
}

// SetOrgMember adds a user to an org or changes their admin flag. While
// the org's admin sync is on, only a sync (BySync) changes the admin flag
// of an LDAP user.
type SetOrgMember struct {
	Member OrgMember `json:"member"`
	BySync bool      `json:"bySync,omitempty"`
}

func (SetOrgMember) kind() commandKind { return kindSetOrgMember }

func (c SetOrgMember) describe() (action, object string, after any) {
	return "org.member.set", subjects.OfOrg(c.Member.Org).String(), c.Member
}

func (c SetOrgMember) before(tx *writeTxn) (any, error) {
	return tx.get(tableOrgMembers, c.Member.Org, c.Member.User)
}

func (c SetOrgMember) apply(tx *writeTxn) error {
	m := c.Member
	if _, err := tx.mustExist("org", tableOrgs, m.Org); err != nil {
		return err
	}
	if _, err := tx.mustExist("user", tableUsers, m.User); err != nil {
		return err
	}
	if !c.BySync {
		old, err := tx.get(tableOrgMembers, m.Org, m.User)
		if err != nil {
			return err
		}
		if old == nil && m.IsAdmin || old != nil && old.(*OrgMember).IsAdmin != m.IsAdmin {
			if err := tx.refuseOrgAdminChange(m.Org, m.User); err != nil {
				return err
			}
		}
	}
	return tx.Insert(tableOrgMembers, &m)
}

// RemoveOrgMember removes a user from an org and from all its teams.
type RemoveOrgMember struct {
	Org    string `json:"org"`
	User   string `json:"user"`
	BySync bool   `json:"bySync,omitempty"`
}

func (RemoveOrgMember) kind() commandKind { return kindRemoveOrgMember }

func (c RemoveOrgMember) describe() (action, object string, after any) {
	return "org.member.remove", subjects.OfOrg(c.Org).String(), c
}

func (c RemoveOrgMember) apply(tx *writeTxn) error {
	row, err := tx.mustExist("org member", tableOrgMembers, c.Org, c.User)
	if err != nil {
		return err
	}
	if !c.BySync && row.(*OrgMember).IsAdmin {
		if err := tx.refuseOrgAdminChange(c.Org, c.User); err != nil {
			return err
		}
	}
	teams, err := tx.all(tableTeamMembers, indexUser, c.User)
	if err != nil {
		return err
	}
	for _, t := range teams {
		if t.(*TeamMember).Org == c.Org {
			if err := tx.Delete(tableTeamMembers, t); err != nil {
				return err
			}
		}
	}
	return tx.Delete(tableOrgMembers, row)
}

// SetTeamMember adds a user to a team (and so to its org) or changes their
// team admin flag. While the team's sync is on, only a sync (BySync) adds
// an LDAP user.
type SetTeamMember struct {
	Member TeamMember `json:"member"`
	BySync bool       `json:"bySync,omitempty"`
}

func (SetTeamMember) kind() commandKind { return kindSetTeamMember }

func (c SetTeamMember) describe() (action, object string, after any) {
	return "team.member.set", subjects.OfTeam(c.Member.Org, c.Member.Team).String(), c.Member
}

func (c SetTeamMember) before(tx *writeTxn) (any, error) {
	return tx.get(tableTeamMembers, c.Member.Org, c.Member.Team, c.Member.User)
}

func (c SetTeamMember) apply(tx *writeTxn) error {
	m := c.Member
	if _, err := tx.mustExist("team", tableTeams, m.Org, m.Team); err != nil {
		return err
	}
	if _, err := tx.mustExist("user", tableUsers, m.User); err != nil {
		return err
	}
	if !c.BySync {
		old, err := tx.get(tableTeamMembers, m.Org, m.Team, m.User)
		if err != nil {
			return err
		}
		if old == nil {
			if err := tx.refuseTeamMemberChange(m.Org, m.Team, m.User); err != nil {
				return err
			}
		}
	}
	inOrg, err := tx.get(tableOrgMembers, m.Org, m.User)
	if err != nil {
		return err
	}
	if inOrg == nil {
		if err := tx.Insert(tableOrgMembers, &OrgMember{Org: m.Org, User: m.User}); err != nil {
			return err
		}
	}
	return tx.Insert(tableTeamMembers, &m)
}

// RemoveTeamMember removes a user from a team; they stay in the org.
type RemoveTeamMember struct {
	Org    string `json:"org"`
	Team   string `json:"team"`
	User   string `json:"user"`
	BySync bool   `json:"bySync,omitempty"`
}

func (RemoveTeamMember) kind() commandKind { return kindRemoveTeamMember }

func (c RemoveTeamMember) describe() (action, object string, after any) {
	return "team.member.remove", subjects.OfTeam(c.Org, c.Team).String(), c
}

func (c RemoveTeamMember) apply(tx *writeTxn) error {
	row, err := tx.mustExist("team member", tableTeamMembers, c.Org, c.Team, c.User)
	if err != nil {
		return err
	}
	if !c.BySync {
		if err := tx.refuseTeamMemberChange(c.Org, c.Team, c.User); err != nil {
			return err
		}
	}
	return tx.Delete(tableTeamMembers, row)
}

// UpdateTeam changes a team's description, directory sync setting or
// Kubernetes groups (replaced whole when KubernetesGroups is set).
type UpdateTeam struct {
	Org              string         `json:"org"`
	Name             string         `json:"name"`
	Description      *string        `json:"description,omitempty"`
	LDAPSync         *LDAPGroupSync `json:"ldapSync,omitempty"`
	KubernetesGroups *[]string      `json:"kubernetesGroups,omitempty"`
}

func (UpdateTeam) kind() commandKind { return kindUpdateTeam }

func (c UpdateTeam) describe() (action, object string, after any) {
	return "team.update", subjects.OfTeam(c.Org, c.Name).String(), c
}

func (c UpdateTeam) before(tx *writeTxn) (any, error) { return tx.get(tableTeams, c.Org, c.Name) }

func (c UpdateTeam) apply(tx *writeTxn) error {
	row, err := tx.mustExist("team", tableTeams, c.Org, c.Name)
	if err != nil {
		return err
	}
	t := *row.(*Team)
	setIf(&t.Description, c.Description)
	if c.LDAPSync != nil {
		t.LDAPSync = clonePtr(c.LDAPSync)
	}
	if c.KubernetesGroups != nil {
		groups, err := validKubernetesGroups(*c.KubernetesGroups)
		if err != nil {
			return err
		}
		t.KubernetesGroups = groups
	}
	return tx.Insert(tableTeams, &t)
}

// UpdateOrg changes an org's admin sync setting.
type UpdateOrg struct {
	Name      string         `json:"name"`
	AdminSync *LDAPGroupSync `json:"adminSync,omitempty"`
}

func (UpdateOrg) kind() commandKind { return kindUpdateOrg }

func (c UpdateOrg) describe() (action, object string, after any) {
	return "org.update", subjects.OfOrg(c.Name).String(), c
}

func (c UpdateOrg) before(tx *writeTxn) (any, error) { return tx.get(tableOrgs, c.Name) }

func (c UpdateOrg) apply(tx *writeTxn) error {
	row, err := tx.mustExist("org", tableOrgs, c.Name)
	if err != nil {
		return err
	}
	o := *row.(*Org)
	if c.AdminSync != nil {
		o.AdminSync = clonePtr(c.AdminSync)
	}
	return tx.Insert(tableOrgs, &o)
}

// refuseTeamMemberChange refuses a change by hand of an LDAP user's
// membership of a team whose members follow the directory.
func (tx *writeTxn) refuseTeamMemberChange(org, team, user string) error {
	t, err := tx.get(tableTeams, org, team)
	if err != nil || t == nil || t.(*Team).LDAPSync == nil || !t.(*Team).LDAPSync.Enabled {
		return err
	}
	if ldap, err := tx.isLDAPUser(user); err != nil || !ldap {
		return err
	}
	return fmt.Errorf("%w: team %s/%s follows the directory: its LDAP members change only through sync "+
		"(turn the team's LDAP sync off to manage %q by hand)", ErrConflict, org, team, user)
}

// refuseOrgAdminChange refuses a change by hand of an LDAP user's org admin
// flag while the org's admin sync is on.
func (tx *writeTxn) refuseOrgAdminChange(org, user string) error {
	o, err := tx.get(tableOrgs, org)
	if err != nil || o == nil || o.(*Org).AdminSync == nil || !o.(*Org).AdminSync.Enabled {
		return err
	}
	if ldap, err := tx.isLDAPUser(user); err != nil || !ldap {
		return err
	}
	return fmt.Errorf("%w: the admins of org %s follow the directory: an LDAP user's admin flag changes only "+
		"through sync (turn the org's admin sync off to change %q by hand)", ErrConflict, org, user)
}

func (tx *writeTxn) isLDAPUser(name string) (bool, error) {
	u, err := tx.get(tableUsers, name)
	return err == nil && u != nil && u.(*User).Source == SourceLDAP, err
}
