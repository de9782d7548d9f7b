package store

import (
	"fmt"
	"strings"

	"github.com/grantd/grantd/subjects"

	"github.com/grantd/grantd/collections"
)

// CreateCollection creates a collection under an existing parent.
type CreateCollection struct {
	Collection Collection `json:"collection"`
}

func (CreateCollection) kind() commandKind { return kindCreateCollection }

func (c CreateCollection) describe() (action, object string, after any) {
	return "collection.create", subjects.CollectionOf(c.Collection.Path).String(), c.Collection
}

func (c CreateCollection) apply(tx *writeTxn) error {
	col := c.Collection
	p, err := collections.Parse(col.Path)
	if err != nil || p != col.Path || p == collections.Root {
		return fmt.Errorf("%w: collection path %q", ErrInvalid, col.Path)
	}
	if err := tx.mustNotExist("collection", tableCollections, p); err != nil {
		return err
	}
	col.Parent = collections.Parent(p)
	if _, err := tx.mustExist("parent collection", tableCollections, col.Parent); err != nil {
		return err
	}
	if col.Parent == collections.Private {
		return fmt.Errorf("%w: collections under %s are created with their users", ErrFailedPrecondition, collections.Private)
	}
	col.Builtin = false
	col.CreatedAt = stamp(col.CreatedAt)
	return tx.Insert(tableCollections, &col)
}

// DeleteCollection deletes a collection without children. Grants on it make
// it a conflict unless Force is set, which deletes them in the same write.
type DeleteCollection struct {
	Path  string `json:"path"`
	Force bool   `json:"force"`
}

func (DeleteCollection) kind() commandKind { return kindDeleteCollection }

func (c DeleteCollection) describe() (action, object string, after any) {
	return "collection.delete", subjects.CollectionOf(c.Path).String(), c
}

func (c DeleteCollection) apply(tx *writeTxn) error {
	row, err := tx.mustExist("collection", tableCollections, c.Path)
	if err != nil {
		return err
	}
	if row.(*Collection).Builtin {
		return fmt.Errorf("%w: %s is a built-in collection", ErrFailedPrecondition, c.Path)
	}
	return tx.deleteCollection(row.(*Collection), c.Force)
}

// deleteCollection removes a collection that has no children, and with
// force the grants on it.
func (tx *writeTxn) deleteCollection(col *Collection, force bool) error {
	if child, err := tx.First(tableCollections, indexParent, col.Path); err != nil {
		return err
	} else if child != nil {
		return fmt.Errorf("%w: collection %s has children (%s)", ErrConflict, col.Path, child.(*Collection).Path)
	}
	object := subjects.CollectionOf(col.Path)
	grants, err := tx.all(tableGrants, indexObject, object)
	if err != nil {
		return err
	}
	if len(grants) > 0 && !force {
		ids := make([]string, len(grants))
		for i, g := range grants {
			ids[i] = g.(*Grant).ID
		}
		return fmt.Errorf("%w: collection %s is the object of grants %s; delete with force to remove them too",
			ErrConflict, col.Path, strings.Join(ids, ", "))
	}
	if _, err := tx.DeleteAll(tableGrants, indexObject, object); err != nil {
		return err
	}
	return tx.Delete(tableCollections, col)
}

// deleteCollectionIfLeaf removes a collection and its grants unless it has
// children; a missing collection is not an error.
func (tx *writeTxn) deleteCollectionIfLeaf(path string) error {
	row, err := tx.get(tableCollections, path)
	if err != nil || row == nil {
		return err
	}
	if child, err := tx.First(tableCollections, indexParent, path); err != nil || child != nil {
		return err
	}
	return tx.deleteCollection(row.(*Collection), true)
}
