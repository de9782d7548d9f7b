package store

import (
	"fmt"
	"slices"
	"time"

	"github.com/grantd/grantd/collections"
	"github.com/grantd/grantd/subjects"
)

// CreateUser creates a user with their private collection and the default
// grant on it (the settings' default private-collection role).
type CreateUser struct {
	User User `json:"user"`
	// PrivateGrantID is the ID of the default grant on the private collection.
	PrivateGrantID string `json:"privateGrantID"`
}

func (CreateUser) kind() commandKind { return kindCreateUser }

func (c CreateUser) describe() (action, object string, after any) {
	return "user.create", subjects.OfUser(c.User.Name).String(), publicUser(c.User)
}

func (c CreateUser) apply(tx *writeTxn) error {
	u := c.User
	if err := tx.mustNotExist("user", tableUsers, u.Name); err != nil {
		return err
	}
	if err := tx.mustNotExist("org with the same namespace as user", tableOrgs, u.Name); err != nil {
		return err
	}
	private, err := collections.Parse(collections.PrivateOf(u.Name))
	if err != nil {
		return fmt.Errorf("%w: username %q cannot name a private collection: %w", ErrInvalid, u.Name, err)
	}
	if err := tx.mustNotExist("private collection", tableCollections, private); err != nil {
		return err
	}
	if u.Source == "" {
		u.Source = SourceLocal
	}
	u.DefaultCollection = private
	u.CreatedAt, u.UpdatedAt = stamp(u.CreatedAt), stamp(u.CreatedAt)
	if err := tx.Insert(tableUsers, &u); err != nil {
		return err
	}
	coll := &Collection{Path: private, Parent: collections.Private, Builtin: true, CreatedAt: u.CreatedAt}
	if err := tx.Insert(tableCollections, coll); err != nil {
		return err
	}
	settings, err := tx.settings()
	if err != nil {
		return err
	}
	g := Grant{ID: c.PrivateGrantID, Subject: subjects.OfUser(u.Name), Role: settings.DefaultPrivateRole,
		Object: subjects.CollectionOf(private), Scope: ScopeSubtree, CreatedAt: u.CreatedAt, CreatedBy: "system"}
	return CreateGrant{Grant: g}.apply(tx)
}

// UpdateUser changes the fields that are set.
type UpdateUser struct {
	Name              string  `json:"name"`
	FullName          *string `json:"fullName,omitempty"`
	IsAdmin           *bool   `json:"isAdmin,omitempty"`
	Active            *bool   `json:"active,omitempty"`
	PasswordHash      *string `json:"passwordHash,omitempty"`
	DefaultCollection *string `json:"defaultCollection,omitempty"`
	LDAPDN            *string `json:"ldapDN,omitempty"`
	GoneFromDirectory *bool   `json:"goneFromDirectory,omitempty"`
	// EndSessions deletes the user's sessions in the same write (a
	// password reset by the operator).
	EndSessions bool      `json:"endSessions,omitempty"`
	Time        time.Time `json:"time"`
}

func (UpdateUser) kind() commandKind { return kindUpdateUser }

func (c UpdateUser) describe() (action, object string, after any) {
	shown := c
	if shown.PasswordHash != nil {
		changed := "(changed)"
		shown.PasswordHash = &changed
	}
	return "user.update", subjects.OfUser(c.Name).String(), shown
}

func (c UpdateUser) before(tx *writeTxn) (any, error) { return tx.get(tableUsers, c.Name) }

func (c UpdateUser) apply(tx *writeTxn) error {
	row, err := tx.mustExist("user", tableUsers, c.Name)
	if err != nil {
		return err
	}
	u := *row.(*User)
	if u.Recovery && (c.IsAdmin != nil && !*c.IsAdmin || c.Active != nil && !*c.Active) {
		return fmt.Errorf("%w: the recovery admin %q always stays an active system admin", ErrFailedPrecondition, u.Name)
	}
	if c.DefaultCollection != nil {
		if _, err := tx.mustExist("collection", tableCollections, *c.DefaultCollection); err != nil {
			return err
		}
		u.DefaultCollection = *c.DefaultCollection
	}
	setIf(&u.FullName, c.FullName)
	setIf(&u.IsAdmin, c.IsAdmin)
	setIf(&u.Active, c.Active)
	setIf(&u.PasswordHash, c.PasswordHash)
	setIf(&u.LDAPDN, c.LDAPDN)
	setIf(&u.GoneFromDirectory, c.GoneFromDirectory)
	u.UpdatedAt = stamp(c.Time)
	if c.EndSessions {
		if _, err := tx.DeleteAll(tableSessions, indexUser, u.Name); err != nil {
			return err
		}
	}
	return tx.Insert(tableUsers, &u)
}

func setIf[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// DeleteUser removes a user with their memberships, grants, sessions,
// tokens and private collection (and the grants on it). A user whose
// private collection has children is refused with the reason, so that a
// deletion never leaves a collection behind that blocks the name's reuse.
type DeleteUser struct {
	Name string `json:"name"`
}

func (DeleteUser) kind() commandKind { return kindDeleteUser }

func (c DeleteUser) describe() (action, object string, after any) {
	return "user.delete", subjects.OfUser(c.Name).String(), nil
}

func (c DeleteUser) before(tx *writeTxn) (any, error) { return tx.get(tableUsers, c.Name) }

func (c DeleteUser) apply(tx *writeTxn) error {
	row, err := tx.mustExist("user", tableUsers, c.Name)
	if err != nil {
		return err
	}
	u := row.(*User)
	if u.Recovery {
		return fmt.Errorf("%w: the recovery admin %q cannot be deleted", ErrFailedPrecondition, u.Name)
	}
	if repos, err := tx.all(tableRepositories, indexIDPrefix, leading(u.Name)...); err != nil {
		return err
	} else if len(repos) > 0 {
		return fmt.Errorf("%w: user %q owns %d repositories; delete them first", ErrConflict, u.Name, len(repos))
	}
	private := collections.PrivateOf(u.Name)
	if child, err := tx.First(tableCollections, indexParent, private); err != nil {
		return err
	} else if child != nil {
		return fmt.Errorf("%w: user %q's private collection %s has child collections (%s); delete them first",
			ErrConflict, u.Name, private, child.(*Collection).Path)
	}
	subject := subjects.OfUser(u.Name)
	for _, step := range []struct {
		table, index string
		arg          any
	}{
		{tableOrgMembers, indexUser, u.Name},
		{tableTeamMembers, indexUser, u.Name},
		{tableGrants, indexSubject, subject},
		{tableSessions, indexUser, u.Name},
		{tableAPITokens, indexOwner, subject},
		{tableClientCerts, indexOwner, subject},
	} {
		if _, err := tx.DeleteAll(step.table, step.index, step.arg); err != nil {
			return err
		}
	}
	if err := tx.deleteCollectionIfLeaf(private); err != nil {
		return err
	}
	return tx.Delete(tableUsers, u)
}

// CreateServiceAccount creates a non-human account.
type CreateServiceAccount struct {
	Account ServiceAccount `json:"account"`
}

func (CreateServiceAccount) kind() commandKind { return kindCreateServiceAccount }

func (c CreateServiceAccount) describe() (action, object string, after any) {
	return "serviceaccount.create", subjects.OfServiceAccount(c.Account.Name).String(), c.Account
}

func (c CreateServiceAccount) apply(tx *writeTxn) error {
	a := c.Account
	if err := validCapabilities(a.Capabilities); err != nil {
		return err
	}
	if err := tx.mustNotExist("service account", tableServiceAccounts, a.Name); err != nil {
		return err
	}
	a.CreatedAt = stamp(a.CreatedAt)
	return tx.Insert(tableServiceAccounts, &a)
}

// UpdateServiceAccount changes the fields that are set. Deactivating an
// account stops its tokens and certificates at once (authentication checks
// the account on every request).
type UpdateServiceAccount struct {
	Name         string    `json:"name"`
	Description  *string   `json:"description,omitempty"`
	Capabilities *[]string `json:"capabilities,omitempty"`
	Active       *bool     `json:"active,omitempty"`
}

func (UpdateServiceAccount) kind() commandKind { return kindUpdateServiceAccount }

func (c UpdateServiceAccount) describe() (action, object string, after any) {
	return "serviceaccount.update", subjects.OfServiceAccount(c.Name).String(), c
}

func (c UpdateServiceAccount) before(tx *writeTxn) (any, error) {
	return tx.get(tableServiceAccounts, c.Name)
}

func (c UpdateServiceAccount) apply(tx *writeTxn) error {
	row, err := tx.mustExist("service account", tableServiceAccounts, c.Name)
	if err != nil {
		return err
	}
	a := *row.(*ServiceAccount)
	if c.Capabilities != nil {
		if err := validCapabilities(*c.Capabilities); err != nil {
			return err
		}
		a.Capabilities = slices.Clone(*c.Capabilities)
	}
	setIf(&a.Description, c.Description)
	setIf(&a.Active, c.Active)
	return tx.Insert(tableServiceAccounts, &a)
}

func validCapabilities(caps []string) error {
	for _, capability := range caps {
		if capability != CapabilityAuthorize {
			return fmt.Errorf("%w: unknown capability %q", ErrInvalid, capability)
		}
	}
	return nil
}

// DeleteServiceAccount removes a service account with its grants and tokens.
type DeleteServiceAccount struct {
	Name string `json:"name"`
}

func (DeleteServiceAccount) kind() commandKind { return kindDeleteServiceAccount }

func (c DeleteServiceAccount) describe() (action, object string, after any) {
	return "serviceaccount.delete", subjects.OfServiceAccount(c.Name).String(), nil
}

func (c DeleteServiceAccount) apply(tx *writeTxn) error {
	row, err := tx.mustExist("service account", tableServiceAccounts, c.Name)
	if err != nil {
		return err
	}
	subject := subjects.OfServiceAccount(c.Name)
	for _, t := range []struct{ table, index string }{
		{tableGrants, indexSubject}, {tableAPITokens, indexOwner}, {tableClientCerts, indexOwner},
	} {
		if _, err := tx.DeleteAll(t.table, t.index, subject); err != nil {
			return err
		}
	}
	return tx.Delete(tableServiceAccounts, row)
}
