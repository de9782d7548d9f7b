package store

import (
	"fmt"
	"time"

	"github.com/grantd/grantd/collections"
	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/subjects"
)

// Bootstrap initializes an empty store: the settings, the built-in
// collections and roles, the default grant of authenticated users on
// /Shared, and the recovery admin. It fails if the store was bootstrapped.
type Bootstrap struct {
	Admin User      `json:"admin"`
	Time  time.Time `json:"time"`
	// SharedGrantID and AdminGrantID are the IDs of the default grants.
	SharedGrantID string `json:"sharedGrantID"`
	AdminGrantID  string `json:"adminGrantID"`
}

func (Bootstrap) kind() commandKind { return kindBootstrap }

// describe: Bootstrap is not an audited change.
func (c Bootstrap) describe() (action, object string, after any) { return unaudited(c) }

// metaBootstrapped marks a bootstrapped store.
const metaBootstrapped = "bootstrapped"

func (c Bootstrap) apply(tx *writeTxn) error {
	if err := tx.mustNotExist("bootstrap marker", tableMeta, metaBootstrapped); err != nil {
		return fmt.Errorf("%w: store already bootstrapped", ErrFailedPrecondition)
	}
	at := stamp(c.Time)
	settings := DefaultSettings()
	if err := tx.Insert(tableSettings, &settings); err != nil {
		return err
	}
	for _, p := range collections.Builtin() {
		col := &Collection{Path: p, Parent: collections.Parent(p), Builtin: true, CreatedAt: at}
		if err := tx.Insert(tableCollections, col); err != nil {
			return err
		}
	}
	for _, r := range roles.Builtins() {
		if err := tx.Insert(tableRoles, &Role{Role: r, CreatedAt: at}); err != nil {
			return err
		}
	}
	shared := Grant{ID: c.SharedGrantID, Subject: subjects.AnyAuthenticated, Role: roles.Scheduler,
		Object: subjects.CollectionOf(collections.Shared), Scope: ScopeSubtree, CreatedAt: at, CreatedBy: "system"}
	if err := (CreateGrant{Grant: shared}).apply(tx); err != nil {
		return err
	}
	admin := c.Admin
	admin.IsAdmin, admin.Active, admin.Recovery, admin.CreatedAt = true, true, true, at
	if err := (CreateUser{User: admin, PrivateGrantID: c.AdminGrantID}).apply(tx); err != nil {
		return err
	}
	return tx.Insert(tableMeta, &Meta{Key: metaBootstrapped, Value: at.Format(time.RFC3339)})
}
