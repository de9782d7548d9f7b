package store

import (
	"encoding/json"
	"fmt"
	"time"

	memdb "github.com/hashicorp/go-memdb"
)

// Command is one write. Commands are encoded as a type byte followed by the
// JSON of the command, appended to the raft log, and applied by the FSM in
// one memdb transaction. A command's apply re-checks every reference inside
// that transaction and returns a typed error to abort it.
type Command interface {
	kind() commandKind
	apply(tx *writeTxn) error
	// describe names what the command does, to whom, and the state it
	// writes, with secrets left out: the audit log's record of it.
	describe() (action, object string, after any)
}

type commandKind uint8

// Command kinds. The byte values are written to the raft log: never reuse
// or renumber one.
const (
	kindBatch commandKind = iota + 1
	kindBootstrap
	kindCreateUser
	kindUpdateUser
	kindDeleteUser
	kindCreateOrg
	kindDeleteOrg
	kindCreateTeam
	kindDeleteTeam
	kindSetOrgMember
	kindRemoveOrgMember
	kindSetTeamMember
	kindRemoveTeamMember
	kindCreateServiceAccount
	kindDeleteServiceAccount
	kindCreateSession
	kindDeleteSession
	kindCreateAPIToken
	kindDeleteAPIToken
	kindCreateCollection
	kindDeleteCollection
	kindCreateRole
	kindDeleteRole
	kindCreateGrant
	kindDeleteGrant
	kindCreateRepository
	kindUpdateRepository
	kindDeleteRepository
	kindUpdateSettings
	kindUpdateTeam
	kindUpdateServiceAccount
	kindTouchSession
	kindAudited
	kindUpdateLDAPConfig
	kindUpdateOrg
	kindRecordSyncReport
	kindPutKeyMaterial
	kindIssueClientCert
	kindUpdateClientCert
	kindRevokeClientCert
	kindReadMark
	kindCreateJoinToken
	kindRevokeJoinToken

	// kindEnd is one past the last kind (never a kind); new kinds go
	// before it.
	kindEnd
)

// commands makes an empty command of each kind, for decoding: with the
// kind constant above, the one place a new command is registered (its
// apply and describe, and before for an update or delete, are its own
// methods, so the compiler asks for them).
var commands = map[commandKind]func() Command{
	kindBatch:                func() Command { return new(Batch) },
	kindBootstrap:            func() Command { return new(Bootstrap) },
	kindCreateUser:           func() Command { return new(CreateUser) },
	kindUpdateUser:           func() Command { return new(UpdateUser) },
	kindDeleteUser:           func() Command { return new(DeleteUser) },
	kindCreateOrg:            func() Command { return new(CreateOrg) },
	kindDeleteOrg:            func() Command { return new(DeleteOrg) },
	kindCreateTeam:           func() Command { return new(CreateTeam) },
	kindDeleteTeam:           func() Command { return new(DeleteTeam) },
	kindSetOrgMember:         func() Command { return new(SetOrgMember) },
	kindRemoveOrgMember:      func() Command { return new(RemoveOrgMember) },
	kindSetTeamMember:        func() Command { return new(SetTeamMember) },
	kindRemoveTeamMember:     func() Command { return new(RemoveTeamMember) },
	kindCreateServiceAccount: func() Command { return new(CreateServiceAccount) },
	kindDeleteServiceAccount: func() Command { return new(DeleteServiceAccount) },
	kindCreateSession:        func() Command { return new(CreateSession) },
	kindDeleteSession:        func() Command { return new(DeleteSession) },
	kindCreateAPIToken:       func() Command { return new(CreateAPIToken) },
	kindDeleteAPIToken:       func() Command { return new(DeleteAPIToken) },
	kindCreateCollection:     func() Command { return new(CreateCollection) },
	kindDeleteCollection:     func() Command { return new(DeleteCollection) },
	kindCreateRole:           func() Command { return new(CreateRole) },
	kindDeleteRole:           func() Command { return new(DeleteRole) },
	kindCreateGrant:          func() Command { return new(CreateGrant) },
	kindDeleteGrant:          func() Command { return new(DeleteGrant) },
	kindCreateRepository:     func() Command { return new(CreateRepository) },
	kindUpdateRepository:     func() Command { return new(UpdateRepository) },
	kindDeleteRepository:     func() Command { return new(DeleteRepository) },
	kindUpdateSettings:       func() Command { return new(UpdateSettings) },
	kindUpdateTeam:           func() Command { return new(UpdateTeam) },
	kindUpdateServiceAccount: func() Command { return new(UpdateServiceAccount) },
	kindTouchSession:         func() Command { return new(TouchSession) },
	kindAudited:              func() Command { return new(Audited) },
	kindUpdateLDAPConfig:     func() Command { return new(UpdateLDAPConfig) },
	kindUpdateOrg:            func() Command { return new(UpdateOrg) },
	kindRecordSyncReport:     func() Command { return new(RecordSyncReport) },
	kindPutKeyMaterial:       func() Command { return new(PutKeyMaterial) },
	kindIssueClientCert:      func() Command { return new(IssueClientCert) },
	kindUpdateClientCert:     func() Command { return new(UpdateClientCert) },
	kindRevokeClientCert:     func() Command { return new(RevokeClientCert) },
	kindReadMark:             func() Command { return new(ReadMark) },
	kindCreateJoinToken:      func() Command { return new(CreateJoinToken) },
	kindRevokeJoinToken:      func() Command { return new(RevokeJoinToken) },
}

// newCommand returns an empty command of the given kind for decoding.
func newCommand(k commandKind) (Command, error) {
	if ctor, ok := commands[k]; ok {
		return ctor(), nil
	}
	return nil, fmt.Errorf("%w: unknown command kind %d", ErrInvalid, k)
}

// encodeCommand is the raft log payload of c.
func encodeCommand(c Command) ([]byte, error) {
	body, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("%w: encode command: %v", ErrInvalid, err)
	}
	return append([]byte{byte(c.kind())}, body...), nil
}

// decodeCommand reverses encodeCommand.
func decodeCommand(data []byte) (Command, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty command", ErrInvalid)
	}
	c, err := newCommand(commandKind(data[0]))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data[1:], c); err != nil {
		return nil, fmt.Errorf("%w: decode command %d: %v", ErrInvalid, data[0], err)
	}
	return c, nil
}

// Batch applies several commands in one transaction: all or none.
type Batch struct {
	Commands []Command `json:"-"`
}

func (Batch) kind() commandKind { return kindBatch }

func (c Batch) describe() (action, object string, after any) {
	return "batch", "", fmt.Sprintf("%d commands", len(c.Commands))
}

func (b Batch) apply(tx *writeTxn) error {
	for i, c := range b.Commands {
		if err := c.apply(tx); err != nil {
			return &BatchError{Index: i, Err: err}
		}
	}
	return nil
}

// BatchError says which command of a batch failed, and why; nothing of
// the batch was applied.
type BatchError struct {
	Index int
	Err   error
}

func (e *BatchError) Error() string { return fmt.Sprintf("batch command %d: %v", e.Index, e.Err) }
func (e *BatchError) Unwrap() error { return e.Err }

// MarshalJSON encodes each command with its kind byte.
func (b Batch) MarshalJSON() ([]byte, error) {
	parts := make([][]byte, len(b.Commands))
	for i, c := range b.Commands {
		if _, nested := c.(*Batch); nested {
			return nil, fmt.Errorf("%w: nested batch", ErrInvalid)
		}
		enc, err := encodeCommand(c)
		if err != nil {
			return nil, err
		}
		parts[i] = enc
	}
	return json.Marshal(parts)
}

// UnmarshalJSON reverses MarshalJSON.
func (b *Batch) UnmarshalJSON(data []byte) error {
	var parts [][]byte
	if err := json.Unmarshal(data, &parts); err != nil {
		return err
	}
	b.Commands = make([]Command, len(parts))
	for i, p := range parts {
		c, err := decodeCommand(p)
		if err != nil {
			return err
		}
		b.Commands[i] = c
	}
	return nil
}

// writeTxn is the memdb write transaction a command applies in, with the
// lookups commands share.
type writeTxn struct {
	*memdb.Txn
	// index is the raft index of the command: the revision it creates.
	index uint64
	// sorted are the sorted indexes as this transaction has them, and
	// changes its changes to the sorted tables' rows (sorted_write.go).
	sorted  map[string]txnSorted
	changes []sortedChange
}

// get returns the row with the given id, or nil.
func (tx *writeTxn) get(table string, id ...any) (any, error) {
	return tx.First(table, indexID, id...)
}

// mustExist fails with ErrNotFound when the row is missing.
func (tx *writeTxn) mustExist(what, table string, id ...any) (any, error) {
	row, err := tx.get(table, id...)
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, fmt.Errorf("%w: %s %v", ErrNotFound, what, joinIDs(id))
	}
	return row, nil
}

// mustNotExist fails with ErrAlreadyExists when the row is there.
func (tx *writeTxn) mustNotExist(what, table string, id ...any) error {
	row, err := tx.get(table, id...)
	if err != nil {
		return err
	}
	if row != nil {
		return fmt.Errorf("%w: %s %v", ErrAlreadyExists, what, joinIDs(id))
	}
	return nil
}

// all collects every row of an index lookup.
func (tx *writeTxn) all(table, index string, args ...any) ([]any, error) {
	return allRows(tx, table, index, args...)
}

// allRows collects every row of an index lookup in src.
func allRows(src rowSource, table, index string, args ...any) ([]any, error) {
	it, err := src.Get(table, index, args...)
	if err != nil {
		return nil, err
	}
	return rowsLeft(it), nil
}

// rowsLeft is every row an iterator has left, as stored.
func rowsLeft(it memdb.ResultIterator) []any {
	var out []any
	for row := it.Next(); row != nil; row = it.Next() {
		out = append(out, row)
	}
	return out
}

func joinIDs(ids []any) string {
	if len(ids) == 1 {
		return fmt.Sprintf("%q", ids[0])
	}
	s := ""
	for i, id := range ids {
		if i > 0 {
			s += "/"
		}
		s += fmt.Sprint(id)
	}
	return fmt.Sprintf("%q", s)
}

// stamp returns t, or the zero time normalized to UTC; commands carry the
// proposer's clock so every replica applies the same value.
func stamp(t time.Time) time.Time { return t.UTC() }
