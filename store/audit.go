package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"time"
	"unicode/utf8"
)

// DefaultAuditRetention is how many audit events are kept when the
// settings do not say otherwise.
const DefaultAuditRetention = 100_000

// Audited applies a command and records it in the audit log in the same
// transaction: the change and its record are one atomic write. The oldest
// events beyond the retention limit of the settings are dropped.
type Audited struct {
	Actor      string    `json:"actor"`
	ClientAddr string    `json:"clientAddr,omitempty"`
	Time       time.Time `json:"time"`
	Command    Command   `json:"-"`
}

func (Audited) kind() commandKind { return kindAudited }

// describe: the audited wrapper is described by the command it wraps.
func (c Audited) describe() (action, object string, after any) { return unaudited(c) }

func (c Audited) apply(tx *writeTxn) error {
	if c.Command == nil {
		return fmt.Errorf("%w: an audited command wraps exactly one plain command", ErrInvalid)
	}
	if _, nested := plainCommand(c.Command).(Audited); nested {
		return fmt.Errorf("%w: an audited command wraps exactly one plain command", ErrInvalid)
	}
	action, object, after := describe(c.Command)
	before, err := beforeOf(tx, c.Command)
	if err != nil {
		return err
	}
	if err := c.Command.apply(tx); err != nil {
		return err
	}
	ev := AuditEvent{Time: stamp(c.Time), Actor: c.Actor, Action: action, Object: object, ClientAddr: c.ClientAddr, Revision: tx.index}
	if ev.Before, err = auditJSON(before); err != nil {
		return err
	}
	if ev.After, err = auditJSON(after); err != nil {
		return err
	}
	return tx.appendAudit(ev)
}

// appendAudit numbers an event after the newest one and enforces retention.
func (tx *writeTxn) appendAudit(ev AuditEvent) error {
	last, err := tx.Last(tableAuditEvents, indexID)
	if err != nil {
		return err
	}
	if last != nil {
		ev.ID = last.(*AuditEvent).ID
	}
	ev.ID++
	if err := tx.Insert(tableAuditEvents, &ev); err != nil {
		return err
	}
	settings, err := tx.settings()
	if err != nil {
		return err
	}
	keep := uint64(settings.AuditRetention)
	if keep == 0 {
		keep = DefaultAuditRetention
	}
	if ev.ID <= keep {
		return nil
	}
	// IDs are consecutive and only this function deletes events, so the
	// events to drop are exactly those up to ev.ID-keep.
	it, err := tx.Get(tableAuditEvents, indexID)
	if err != nil {
		return err
	}
	var drop []any
	for row := it.Next(); row != nil && row.(*AuditEvent).ID <= ev.ID-keep; row = it.Next() {
		drop = append(drop, row)
	}
	for _, row := range drop {
		if err := tx.Delete(tableAuditEvents, row); err != nil {
			return err
		}
	}
	return nil
}

// AuditExcerpt bounds every string the audit log keeps of an object: a
// longer one is kept as its first AuditExcerpt bytes and a note of how
// many were left out. However large a description or a certificate, an
// event stays small, and the retention count bounds the log's memory.
const AuditExcerpt = 256

func auditJSON(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	raw, err := json.Marshal(v)
	if err != nil || len(raw) <= AuditExcerpt {
		return raw, err // too short to hold a string over the limit
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // numbers stay as written
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	return json.Marshal(excerpt(doc))
}

// excerpt shortens every string in a decoded JSON document to AuditExcerpt
// bytes (on a character boundary).
func excerpt(v any) any {
	switch x := v.(type) {
	case string:
		if len(x) <= AuditExcerpt {
			return x
		}
		cut := AuditExcerpt
		for cut > 0 && !utf8.RuneStart(x[cut]) {
			cut--
		}
		return fmt.Sprintf("%s…[%d more bytes]", x[:cut], len(x)-cut)
	case map[string]any:
		for k, e := range x {
			x[k] = excerpt(e)
		}
	case []any:
		for i, e := range x {
			x[i] = excerpt(e)
		}
	}
	return v
}

// MarshalJSON encodes the wrapped command with its kind byte.
func (c Audited) MarshalJSON() ([]byte, error) {
	if c.Command == nil {
		return nil, fmt.Errorf("%w: audited command without a command", ErrInvalid)
	}
	enc, err := encodeCommand(c.Command)
	if err != nil {
		return nil, err
	}
	type plain Audited
	return json.Marshal(struct {
		plain
		Inner []byte `json:"command"`
	}{plain(c), enc})
}

// UnmarshalJSON reverses MarshalJSON.
func (c *Audited) UnmarshalJSON(data []byte) error {
	type plain Audited
	var v struct {
		plain
		Inner []byte `json:"command"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	inner, err := decodeCommand(v.Inner)
	if err != nil {
		return err
	}
	*c = Audited(v.plain)
	c.Command = inner
	return nil
}

// plainCommand returns the value a decoded (pointer) command points to, so
// that type switches see one form.
func plainCommand(c Command) Command {
	if v := reflect.ValueOf(c); v.Kind() == reflect.Pointer && !v.IsNil() {
		if inner, ok := v.Elem().Interface().(Command); ok {
			return inner
		}
	}
	return c
}

// publicUser is a user as the audit log shows it: without the password hash.
func publicUser(u User) User {
	u.PasswordHash = ""
	return u
}

// Describe names the action and object of a command as the audit log does.
func Describe(c Command) (action, object string) {
	action, object, _ = describe(c)
	return action, object
}

// describe names what a command does, to whom, and the state it writes,
// with secrets left out.
func describe(c Command) (action, object string, after any) {
	return plainCommand(c).describe()
}

// unaudited is the description of a command that is not an audited
// change (sessions, the bootstrap, the audited wrapper itself).
func unaudited(c Command) (action, object string, after any) {
	return fmt.Sprintf("command.%d", c.kind()), "", nil
}

// beforer is a command that changes or deletes an existing row: before
// reads it, for the audit log's "before".
type beforer interface {
	before(tx *writeTxn) (any, error)
}

// beforeOf reads the row an update or delete is about to change.
func beforeOf(tx *writeTxn, c Command) (any, error) {
	b, ok := plainCommand(c).(beforer)
	if !ok {
		return nil, nil
	}
	row, err := b.before(tx)
	if err != nil || row == nil {
		return nil, err
	}
	switch r := row.(type) {
	case *User:
		return publicUser(*r), nil
	case *APIToken:
		t := *r
		t.Hash = ""
		return t, nil
	}
	return row, nil
}
