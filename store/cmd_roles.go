package store

import (
	"fmt"
	"strings"

	"github.com/grantd/grantd/roles"
)

// CreateRole creates a custom role; the definition is validated again
// inside the transaction.
type CreateRole struct {
	Role Role `json:"role"`
}

func (CreateRole) kind() commandKind { return kindCreateRole }

func (c CreateRole) describe() (action, object string, after any) {
	return "role.create", "role:" + c.Role.ID, c.Role
}

func (c CreateRole) apply(tx *writeTxn) error {
	valid, err := roles.ValidateCustom(c.Role.ID, c.Role.Permissions)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := tx.mustNotExist("role", tableRoles, valid.ID); err != nil {
		return err
	}
	if c.Role.DisplayName != "" {
		valid.DisplayName = c.Role.DisplayName
	}
	return tx.Insert(tableRoles, &Role{Role: valid, CreatedAt: stamp(c.Role.CreatedAt)})
}

// DeleteRole deletes a custom role that no grant uses.
type DeleteRole struct {
	ID string `json:"id"`
}

func (DeleteRole) kind() commandKind { return kindDeleteRole }

func (c DeleteRole) describe() (action, object string, after any) {
	return "role.delete", "role:" + c.ID, nil
}

func (c DeleteRole) before(tx *writeTxn) (any, error) { return tx.get(tableRoles, c.ID) }

func (c DeleteRole) apply(tx *writeTxn) error {
	row, err := tx.mustExist("role", tableRoles, c.ID)
	if err != nil {
		return err
	}
	if row.(*Role).Builtin {
		return fmt.Errorf("%w: %q is a built-in role", ErrFailedPrecondition, c.ID)
	}
	// A scan: grants are not indexed by role (see schema.go).
	it, err := tx.Get(tableGrants, indexID)
	if err != nil {
		return err
	}
	var ids []string
	for row := it.Next(); row != nil; row = it.Next() {
		if g := row.(*Grant); g.Role == c.ID {
			ids = append(ids, g.ID)
		}
	}
	if len(ids) > 0 {
		return fmt.Errorf("%w: role %q is used by grants %s", ErrConflict, c.ID, strings.Join(ids, ", "))
	}
	if s, err := tx.settings(); err != nil {
		return err
	} else if s.DefaultPrivateRole == c.ID {
		return fmt.Errorf("%w: role %q is the default private-collection role", ErrConflict, c.ID)
	}
	return tx.Delete(tableRoles, row)
}
