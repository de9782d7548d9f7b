package store

import (
	"fmt"
	"time"
)

// CreateSession records a login session and drops the user's oldest
// sessions beyond PerUserLimit (0 = unlimited).
type CreateSession struct {
	Session      Session `json:"session"`
	PerUserLimit int     `json:"perUserLimit"`
}

func (CreateSession) kind() commandKind { return kindCreateSession }

// describe: CreateSession is not an audited change.
func (c CreateSession) describe() (action, object string, after any) { return unaudited(c) }

func (c CreateSession) apply(tx *writeTxn) error {
	row, err := tx.mustExist("user", tableUsers, c.Session.User)
	if err != nil {
		return err
	}
	if !row.(*User).Active {
		return fmt.Errorf("%w: user %q is inactive", ErrFailedPrecondition, c.Session.User)
	}
	s := c.Session
	s.CreatedAt, s.ExpiresAt = stamp(s.CreatedAt), stamp(s.ExpiresAt)
	if err := tx.Insert(tableSessions, &s); err != nil {
		return err
	}
	if c.PerUserLimit <= 0 {
		return nil
	}
	all, err := tx.all(tableSessions, indexUser, s.User)
	if err != nil {
		return err
	}
	for len(all) > c.PerUserLimit {
		oldest := 0
		for i, x := range all {
			if lastUse(x.(*Session)).Before(lastUse(all[oldest].(*Session))) {
				oldest = i
			}
		}
		if err := tx.Delete(tableSessions, all[oldest]); err != nil {
			return err
		}
		all = append(all[:oldest], all[oldest+1:]...)
	}
	return nil
}

func lastUse(s *Session) time.Time {
	if s.LastUsedAt.After(s.CreatedAt) {
		return s.LastUsedAt
	}
	return s.CreatedAt
}

// TouchSession records the use of a session and, when ExpiresAt is later
// than the stored expiry, extends it (renewal).
type TouchSession struct {
	ID        string    `json:"id"`
	UsedAt    time.Time `json:"usedAt"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

func (TouchSession) kind() commandKind { return kindTouchSession }

// describe: TouchSession is not an audited change.
func (c TouchSession) describe() (action, object string, after any) { return unaudited(c) }

func (c TouchSession) apply(tx *writeTxn) error {
	row, err := tx.mustExist("session", tableSessions, c.ID)
	if err != nil {
		return err
	}
	s := *row.(*Session)
	s.LastUsedAt = stamp(c.UsedAt)
	if c.ExpiresAt.After(s.ExpiresAt) {
		s.ExpiresAt = stamp(c.ExpiresAt)
	}
	return tx.Insert(tableSessions, &s)
}

// DeleteSession ends a session.
type DeleteSession struct {
	ID string `json:"id"`
}

func (DeleteSession) kind() commandKind { return kindDeleteSession }

// describe: DeleteSession is not an audited change.
func (c DeleteSession) describe() (action, object string, after any) { return unaudited(c) }

func (c DeleteSession) apply(tx *writeTxn) error {
	row, err := tx.mustExist("session", tableSessions, c.ID)
	if err != nil {
		return err
	}
	return tx.Delete(tableSessions, row)
}

// CreateAPIToken records a token of an existing user or service account.
type CreateAPIToken struct {
	Token APIToken `json:"token"`
}

func (CreateAPIToken) kind() commandKind { return kindCreateAPIToken }

func (c CreateAPIToken) describe() (action, object string, after any) {
	t := c.Token
	t.Hash = ""
	return "token.create", t.Owner.String(), t
}

func (c CreateAPIToken) apply(tx *writeTxn) error {
	t := c.Token
	owner := t.Owner
	if !owner.IsAccount() {
		return fmt.Errorf("%w: token owner %q must be a user or service account", ErrInvalid, t.Owner)
	}
	if err := tx.subjectExists(owner); err != nil {
		return err
	}
	if err := tx.mustNotExist("token", tableAPITokens, t.ID); err != nil {
		return err
	}
	t.CreatedAt = stamp(t.CreatedAt)
	return tx.Insert(tableAPITokens, &t)
}

// DeleteAPIToken revokes a token.
type DeleteAPIToken struct {
	ID string `json:"id"`
}

func (DeleteAPIToken) kind() commandKind { return kindDeleteAPIToken }

func (c DeleteAPIToken) describe() (action, object string, after any) {
	return "token.revoke", "token:" + c.ID, nil
}

func (c DeleteAPIToken) before(tx *writeTxn) (any, error) { return tx.get(tableAPITokens, c.ID) }

func (c DeleteAPIToken) apply(tx *writeTxn) error {
	row, err := tx.mustExist("token", tableAPITokens, c.ID)
	if err != nil {
		return err
	}
	return tx.Delete(tableAPITokens, row)
}
