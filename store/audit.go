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
	ev := AuditEvent{Time: stamp(c.Time), Actor: c.Actor, Action: action, Object: object, ClientAddr: c.ClientAddr}
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
	switch c := plainCommand(c).(type) {
	case CreateUser:
		return "user.create", "user:" + c.User.Name, publicUser(c.User)
	case UpdateUser:
		shown := c
		if shown.PasswordHash != nil {
			changed := "(changed)"
			shown.PasswordHash = &changed
		}
		return "user.update", "user:" + c.Name, shown
	case DeleteUser:
		return "user.delete", "user:" + c.Name, nil
	case CreateOrg:
		return "org.create", "org:" + c.Org.Name, c.Org
	case DeleteOrg:
		return "org.delete", "org:" + c.Name, nil
	case CreateTeam:
		return "team.create", "team:" + c.Team.Org + "/" + c.Team.Name, c.Team
	case UpdateTeam:
		return "team.update", "team:" + c.Org + "/" + c.Name, c
	case DeleteTeam:
		return "team.delete", "team:" + c.Org + "/" + c.Name, nil
	case SetOrgMember:
		return "org.member.set", "org:" + c.Member.Org, c.Member
	case RemoveOrgMember:
		return "org.member.remove", "org:" + c.Org, c
	case SetTeamMember:
		return "team.member.set", "team:" + c.Member.Org + "/" + c.Member.Team, c.Member
	case RemoveTeamMember:
		return "team.member.remove", "team:" + c.Org + "/" + c.Team, c
	case CreateServiceAccount:
		return "serviceaccount.create", "serviceaccount:" + c.Account.Name, c.Account
	case UpdateServiceAccount:
		return "serviceaccount.update", "serviceaccount:" + c.Name, c
	case DeleteServiceAccount:
		return "serviceaccount.delete", "serviceaccount:" + c.Name, nil
	case CreateAPIToken:
		t := c.Token
		t.Hash = ""
		return "token.create", t.Owner, t
	case DeleteAPIToken:
		return "token.revoke", "token:" + c.ID, nil
	case CreateCollection:
		return "collection.create", "collection:" + c.Collection.Path, c.Collection
	case DeleteCollection:
		return "collection.delete", "collection:" + c.Path, c
	case CreateRole:
		return "role.create", "role:" + c.Role.ID, c.Role
	case DeleteRole:
		return "role.delete", "role:" + c.ID, nil
	case CreateGrant:
		return "grant.create", c.Grant.Object, c.Grant
	case DeleteGrant:
		return "grant.delete", "grant:" + c.ID, nil
	case CreateRepository:
		return "repository.create", "repository:" + c.Repository.Namespace + "/" + c.Repository.Name, c.Repository
	case UpdateRepository:
		return "repository.update", "repository:" + c.Namespace + "/" + c.Name, c
	case DeleteRepository:
		return "repository.delete", "repository:" + c.Namespace + "/" + c.Name, nil
	case UpdateSettings:
		return "settings.update", "settings", c.Settings
	case UpdateLDAPConfig:
		// The document holds the reader's password: record the change only.
		return "ldap.config.update", "ldap", nil
	case UpdateOrg:
		return "org.update", "org:" + c.Name, c
	case PutKeyMaterial:
		// Never the key itself.
		return "key.put", "key:" + c.Material.ID, nil
	case IssueClientCert:
		return "bundle.create", "bundle:" + c.Cert.Serial, c.Cert
	case UpdateClientCert:
		return "bundle.update", "bundle:" + c.Serial, c
	case RevokeClientCert:
		return "bundle.revoke", "bundle:" + c.Serial, nil
	case RecordSyncReport:
		return "ldap.sync.report", fmt.Sprintf("ldap-sync:%d", c.Report.ID), nil
	case Batch:
		return "batch", "", fmt.Sprintf("%d commands", len(c.Commands))
	}
	return fmt.Sprintf("command.%d", c.kind()), "", nil
}

// beforeOf reads the row an update or delete is about to change.
func beforeOf(tx *writeTxn, c Command) (any, error) {
	var row any
	var err error
	switch c := plainCommand(c).(type) {
	case UpdateUser:
		row, err = tx.get(tableUsers, c.Name)
	case DeleteUser:
		row, err = tx.get(tableUsers, c.Name)
	case UpdateTeam:
		row, err = tx.get(tableTeams, c.Org, c.Name)
	case UpdateOrg:
		row, err = tx.get(tableOrgs, c.Name)
	case SetOrgMember:
		row, err = tx.get(tableOrgMembers, c.Member.Org, c.Member.User)
	case SetTeamMember:
		row, err = tx.get(tableTeamMembers, c.Member.Org, c.Member.Team, c.Member.User)
	case UpdateServiceAccount:
		row, err = tx.get(tableServiceAccounts, c.Name)
	case DeleteGrant:
		row, err = tx.get(tableGrants, c.ID)
	case DeleteRole:
		row, err = tx.get(tableRoles, c.ID)
	case UpdateRepository:
		row, err = tx.get(tableRepositories, c.Namespace, c.Name)
	case DeleteAPIToken:
		row, err = tx.get(tableAPITokens, c.ID)
	case UpdateSettings:
		row, err = tx.get(tableSettings, settingsID)
	case UpdateClientCert:
		row, err = tx.get(tableClientCerts, c.Serial)
	case RevokeClientCert:
		row, err = tx.get(tableClientCerts, c.Serial)
	}
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
