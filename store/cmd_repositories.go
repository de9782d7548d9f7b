package store

import (
	"fmt"

	"github.com/grantd/grantd/subjects"
)

// CreateRepository creates a repository in an existing user or org namespace.
type CreateRepository struct {
	Repository Repository `json:"repository"`
}

func (CreateRepository) kind() commandKind { return kindCreateRepository }

func (c CreateRepository) describe() (action, object string, after any) {
	return "repository.create", subjects.RepositoryOf(c.Repository.Namespace, c.Repository.Name).String(), c.Repository
}

func (c CreateRepository) apply(tx *writeTxn) error {
	r := c.Repository
	if r.Visibility == "" {
		r.Visibility = VisibilityPrivate
	}
	if err := validVisibility(r.Visibility); err != nil {
		return err
	}
	if _, err := tx.namespaceOwner(r.Namespace); err != nil {
		return err
	}
	if err := tx.mustNotExist("repository", tableRepositories, r.Namespace, r.Name); err != nil {
		return err
	}
	r.CreatedAt = stamp(r.CreatedAt)
	return tx.Insert(tableRepositories, &r)
}

// UpdateRepository changes a repository's visibility or description.
type UpdateRepository struct {
	Namespace   string  `json:"namespace"`
	Name        string  `json:"name"`
	Visibility  *string `json:"visibility,omitempty"`
	Description *string `json:"description,omitempty"`
}

func (UpdateRepository) kind() commandKind { return kindUpdateRepository }

func (c UpdateRepository) describe() (action, object string, after any) {
	return "repository.update", subjects.RepositoryOf(c.Namespace, c.Name).String(), c
}

func (c UpdateRepository) before(tx *writeTxn) (any, error) {
	return tx.get(tableRepositories, c.Namespace, c.Name)
}

func (c UpdateRepository) apply(tx *writeTxn) error {
	row, err := tx.mustExist("repository", tableRepositories, c.Namespace, c.Name)
	if err != nil {
		return err
	}
	r := *row.(*Repository)
	if c.Visibility != nil {
		if err := validVisibility(*c.Visibility); err != nil {
			return err
		}
		r.Visibility = *c.Visibility
	}
	setIf(&r.Description, c.Description)
	return tx.Insert(tableRepositories, &r)
}

// DeleteRepository deletes a repository and the grants on it.
type DeleteRepository struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func (DeleteRepository) kind() commandKind { return kindDeleteRepository }

func (c DeleteRepository) describe() (action, object string, after any) {
	return "repository.delete", subjects.RepositoryOf(c.Namespace, c.Name).String(), nil
}

func (c DeleteRepository) apply(tx *writeTxn) error {
	row, err := tx.mustExist("repository", tableRepositories, c.Namespace, c.Name)
	if err != nil {
		return err
	}
	if _, err := tx.DeleteAll(tableGrants, indexObject, subjects.RepositoryOf(c.Namespace, c.Name)); err != nil {
		return err
	}
	return tx.Delete(tableRepositories, row)
}

func validVisibility(v string) error {
	if v != VisibilityPrivate && v != VisibilityPublic {
		return fmt.Errorf("%w: visibility %q is neither %s nor %s", ErrInvalid, v, VisibilityPrivate, VisibilityPublic)
	}
	return nil
}
