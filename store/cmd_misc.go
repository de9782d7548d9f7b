package store

import (
	"encoding/json"
	"fmt"
	"slices"
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
	shared := Grant{ID: c.SharedGrantID, Subject: string(subjects.Authenticated), Role: roles.Scheduler,
		Object: "collection:" + collections.Shared, Scope: ScopeSubtree, CreatedAt: at, CreatedBy: "system"}
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

// CreateSession records a login session and drops the user's oldest
// sessions beyond PerUserLimit (0 = unlimited).
type CreateSession struct {
	Session      Session `json:"session"`
	PerUserLimit int     `json:"perUserLimit"`
}

func (CreateSession) kind() commandKind { return kindCreateSession }

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

func (c CreateAPIToken) apply(tx *writeTxn) error {
	t := c.Token
	owner, err := subjects.ParseSubject(t.Owner)
	if err != nil || owner.Kind != subjects.User && owner.Kind != subjects.ServiceAccount {
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

func (c DeleteAPIToken) apply(tx *writeTxn) error {
	row, err := tx.mustExist("token", tableAPITokens, c.ID)
	if err != nil {
		return err
	}
	return tx.Delete(tableAPITokens, row)
}

// UpdateSettings replaces the server settings after validating them.
type UpdateSettings struct {
	Settings Settings `json:"settings"`
}

func (UpdateSettings) kind() commandKind { return kindUpdateSettings }

func (c UpdateSettings) apply(tx *writeTxn) error {
	s := c.Settings
	s.ID = settingsID
	row, err := tx.mustExist("role", tableRoles, s.DefaultPrivateRole)
	if err != nil {
		return err
	}
	if !row.(*Role).AppliesTo(roles.Swarm) && s.DefaultPrivateRole != roles.None {
		return fmt.Errorf("%w: default private-collection role %q has no Swarm operation", ErrInvalid, s.DefaultPrivateRole)
	}
	ss := s.Sessions
	switch {
	case ss.LifetimeMinutes < 10 || ss.LifetimeMinutes > MaxSessionLifetimeMinutes:
		return fmt.Errorf("%w: session lifetime must be 10 to %d minutes (one year)", ErrInvalid, MaxSessionLifetimeMinutes)
	case ss.RenewalThresholdMinutes < 0 || ss.RenewalThresholdMinutes > ss.LifetimeMinutes-5:
		return fmt.Errorf("%w: renewal threshold must be 0 to lifetime - 5 minutes", ErrInvalid)
	case ss.PerUserLimit < 0 || ss.PerUserLimit > 100_000:
		return fmt.Errorf("%w: per-user session limit must be 0 (unlimited) to 100,000", ErrInvalid)
	case s.AuditRetention != 0 && (s.AuditRetention < 100 || s.AuditRetention > 10_000_000):
		return fmt.Errorf("%w: audit retention must be 100 to 10,000,000 events", ErrInvalid)
	}
	return tx.Insert(tableSettings, &s)
}

// MaxSessionLifetimeMinutes is the longest session lifetime (one year):
// long enough for any policy, far from overflowing a time.Duration.
const MaxSessionLifetimeMinutes = 365 * 24 * 60

func (tx *writeTxn) settings() (Settings, error) {
	row, err := tx.mustExist("settings", tableSettings, settingsID)
	if err != nil {
		return Settings{}, err
	}
	return *row.(*Settings), nil
}

// UpdateLDAPConfig replaces the directory configuration. Its content is
// validated by the ldapsync package before it is proposed; the store keeps
// it as an opaque JSON document and only checks that it is one.
type UpdateLDAPConfig struct {
	Config json.RawMessage `json:"config"`
}

func (UpdateLDAPConfig) kind() commandKind { return kindUpdateLDAPConfig }

func (c UpdateLDAPConfig) apply(tx *writeTxn) error {
	if !json.Valid(c.Config) || len(c.Config) == 0 || c.Config[0] != '{' {
		return fmt.Errorf("%w: the LDAP configuration must be a JSON object", ErrInvalid)
	}
	return tx.Insert(tableLDAPConfig, &LDAPConfig{ID: ldapConfigID, Config: slices.Clone(c.Config)})
}

// RecordSyncReport stores the report of a sync run and drops the oldest
// beyond SyncReportsKept. A report with the ID of a stored one replaces it.
type RecordSyncReport struct {
	Report SyncReport `json:"report"`
}

func (RecordSyncReport) kind() commandKind { return kindRecordSyncReport }

func (c RecordSyncReport) apply(tx *writeTxn) error {
	r := c.Report
	if r.ID == 0 || !json.Valid(r.Report) {
		return fmt.Errorf("%w: a sync report needs an ID and a JSON report", ErrInvalid)
	}
	r.Report = slices.Clone(r.Report)
	r.StartedAt, r.EndedAt = stamp(r.StartedAt), stamp(r.EndedAt)
	r.Revision = tx.index
	if err := tx.Insert(tableSyncReports, &r); err != nil {
		return err
	}
	all, err := tx.all(tableSyncReports, indexID)
	if err != nil {
		return err
	}
	for _, old := range all[:max(0, len(all)-SyncReportsKept)] {
		if err := tx.Delete(tableSyncReports, old); err != nil {
			return err
		}
	}
	return nil
}

// PutKeyMaterial stores a key pair (a CA, a signing key), replacing the
// one with the same ID. Unless Replace is set it refuses to overwrite, so
// that two nodes creating the same key on first start cannot race.
type PutKeyMaterial struct {
	Material KeyMaterial `json:"material"`
	Replace  bool        `json:"replace,omitempty"`
}

func (PutKeyMaterial) kind() commandKind { return kindPutKeyMaterial }

func (c PutKeyMaterial) apply(tx *writeTxn) error {
	m := c.Material
	if m.ID == "" || m.CertPEM == "" || m.KeyPEM == "" {
		return fmt.Errorf("%w: key material needs an ID, a certificate and a key", ErrInvalid)
	}
	if !c.Replace {
		if err := tx.mustNotExist("key material", tableKeyMaterial, m.ID); err != nil {
			return err
		}
	}
	return tx.Insert(tableKeyMaterial, &m)
}

// IssueClientCert records a certificate the client CA issued to an
// existing user or service account.
type IssueClientCert struct {
	Cert ClientCert `json:"cert"`
}

func (IssueClientCert) kind() commandKind { return kindIssueClientCert }

func (c IssueClientCert) apply(tx *writeTxn) error {
	cert := c.Cert
	owner, err := subjects.ParseSubject(cert.Owner)
	if err != nil || owner.Kind != subjects.User && owner.Kind != subjects.ServiceAccount {
		return fmt.Errorf("%w: certificate owner %q must be a user or service account", ErrInvalid, cert.Owner)
	}
	if cert.Serial == "" || cert.PublicKey == "" || !cert.NotBefore.Before(cert.NotAfter) {
		return fmt.Errorf("%w: a certificate needs a serial, a public key and a validity period", ErrInvalid)
	}
	if err := tx.subjectExists(owner); err != nil {
		return err
	}
	if err := tx.mustNotExist("certificate", tableClientCerts, cert.Serial); err != nil {
		return err
	}
	cert.NotBefore, cert.NotAfter, cert.Revoked = stamp(cert.NotBefore), stamp(cert.NotAfter), false
	return tx.Insert(tableClientCerts, &cert)
}

// UpdateClientCert changes a certificate's label.
type UpdateClientCert struct {
	Serial string `json:"serial"`
	Label  string `json:"label"`
}

func (UpdateClientCert) kind() commandKind { return kindUpdateClientCert }

func (c UpdateClientCert) apply(tx *writeTxn) error {
	row, err := tx.mustExist("certificate", tableClientCerts, c.Serial)
	if err != nil {
		return err
	}
	cert := *row.(*ClientCert)
	cert.Label = c.Label
	return tx.Insert(tableClientCerts, &cert)
}

// RevokeClientCert revokes a certificate for good; revoking it again is
// not an error.
type RevokeClientCert struct {
	Serial string `json:"serial"`
}

func (RevokeClientCert) kind() commandKind { return kindRevokeClientCert }

func (c RevokeClientCert) apply(tx *writeTxn) error {
	row, err := tx.mustExist("certificate", tableClientCerts, c.Serial)
	if err != nil {
		return err
	}
	cert := *row.(*ClientCert)
	cert.Revoked = true
	return tx.Insert(tableClientCerts, &cert)
}
