package store

import (
	"fmt"
)

// PutKeyMaterial stores a key pair (a CA, a signing key), replacing the
// one with the same ID. Unless Replace is set it refuses to overwrite, so
// that two nodes creating the same key on first start cannot race.
type PutKeyMaterial struct {
	Material KeyMaterial `json:"material"`
	Replace  bool        `json:"replace,omitempty"`
}

func (PutKeyMaterial) kind() commandKind { return kindPutKeyMaterial }

func (c PutKeyMaterial) describe() (action, object string, after any) {
	// Never the key itself.
	return "key.put", "key:" + c.Material.ID, nil
}

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

func (c IssueClientCert) describe() (action, object string, after any) {
	return "bundle.create", "bundle:" + c.Cert.Serial, c.Cert
}

func (c IssueClientCert) apply(tx *writeTxn) error {
	cert := c.Cert
	owner := cert.Owner
	if !owner.IsAccount() {
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

func (c UpdateClientCert) describe() (action, object string, after any) {
	return "bundle.update", "bundle:" + c.Serial, c
}

func (c UpdateClientCert) before(tx *writeTxn) (any, error) {
	return tx.get(tableClientCerts, c.Serial)
}

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

func (c RevokeClientCert) describe() (action, object string, after any) {
	return "bundle.revoke", "bundle:" + c.Serial, nil
}

func (c RevokeClientCert) before(tx *writeTxn) (any, error) {
	return tx.get(tableClientCerts, c.Serial)
}

func (c RevokeClientCert) apply(tx *writeTxn) error {
	row, err := tx.mustExist("certificate", tableClientCerts, c.Serial)
	if err != nil {
		return err
	}
	cert := *row.(*ClientCert)
	cert.Revoked = true
	return tx.Insert(tableClientCerts, &cert)
}

// CreateJoinToken stores a cluster join token.
type CreateJoinToken struct {
	Token JoinToken `json:"token"`
}

func (CreateJoinToken) kind() commandKind { return kindCreateJoinToken }

func (c CreateJoinToken) describe() (action, object string, after any) {
	t := c.Token
	t.Secret = nil // never the secret
	return "cluster.joinToken.create", "joinToken:" + t.ID, t
}

func (c CreateJoinToken) apply(tx *writeTxn) error {
	t := c.Token
	if t.ID == "" || len(t.Secret) < 16 || !t.Created.Before(t.Expires) {
		return fmt.Errorf("%w: a join token needs an ID, a secret of at least 16 bytes and a validity period", ErrInvalid)
	}
	if err := tx.mustNotExist("join token", tableJoinTokens, t.ID); err != nil {
		return err
	}
	t.Created, t.Expires = stamp(t.Created), stamp(t.Expires)
	t.Secret = append([]byte(nil), t.Secret...)
	return tx.Insert(tableJoinTokens, &t)
}

// RevokeJoinToken deletes a join token; an unknown ID is NotFound.
type RevokeJoinToken struct {
	ID string `json:"id"`
}

func (RevokeJoinToken) kind() commandKind { return kindRevokeJoinToken }

func (c RevokeJoinToken) describe() (action, object string, after any) {
	return "cluster.joinToken.revoke", "joinToken:" + c.ID, nil
}

func (c RevokeJoinToken) before(tx *writeTxn) (any, error) {
	row, err := tx.get(tableJoinTokens, c.ID)
	if err != nil || row == nil {
		return row, err
	}
	t := *row.(*JoinToken)
	t.Secret = nil
	return &t, nil
}

func (c RevokeJoinToken) apply(tx *writeTxn) error {
	row, err := tx.mustExist("join token", tableJoinTokens, c.ID)
	if err != nil {
		return err
	}
	return tx.Delete(tableJoinTokens, row)
}
