package store

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/grantd/grantd/roles"
)

// UpdateSettings replaces the server settings after validating them.
type UpdateSettings struct {
	Settings Settings `json:"settings"`
}

func (UpdateSettings) kind() commandKind { return kindUpdateSettings }

func (c UpdateSettings) describe() (action, object string, after any) {
	return "settings.update", "settings", c.Settings
}

func (c UpdateSettings) before(tx *writeTxn) (any, error) { return tx.get(tableSettings, settingsID) }

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

func (c UpdateLDAPConfig) describe() (action, object string, after any) {
	// The document holds the reader's password: record the change only.
	return "ldap.config.update", "ldap", nil
}

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

func (c RecordSyncReport) describe() (action, object string, after any) {
	return "ldap.sync.report", fmt.Sprintf("ldap-sync:%d", c.Report.ID), nil
}

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
