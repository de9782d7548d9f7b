package authn

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/grantd/grantd/subjects"

	"github.com/grantd/grantd/pki"
	"github.com/grantd/grantd/store"
)

// Certificate is the principal of a client certificate presented as user
// (the Docker daemon's User, or the CN the proxy saw): one grantd's client
// CA issued and recorded, unrevoked, within its validity, whose recorded
// owner is named by the CN and is an active account. Failures say which
// check failed: they reach the Docker CLI as the reason of a refusal, and
// a certificate is no secret.
func Certificate(r *store.ReadTxn, ca *pki.ClientCA, user string, cert *x509.Certificate, now time.Time) (*Principal, error) {
	if err := ca.Verify(cert); errors.Is(err, pki.ErrNotIssued) {
		return nil, fmt.Errorf("certificate of %q %w", user, err)
	} else if err != nil {
		return nil, err
	}
	row, err := r.ClientCert(pki.CertSerial(cert))
	if err != nil {
		return nil, err
	}
	if row == nil || row.PublicKey != pki.KeyFingerprint(cert) {
		return nil, fmt.Errorf("certificate of %q is not one grantd issued", user)
	}
	if row.Revoked {
		return nil, fmt.Errorf("certificate %s of %q is revoked", row.Serial, user)
	}
	if now.Before(row.NotBefore) || now.After(row.NotAfter) || now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return nil, fmt.Errorf("certificate %s of %q is expired or not yet valid", row.Serial, user)
	}
	if owner := row.Owner; owner != subjects.OfUser(user) && owner != subjects.OfServiceAccount(user) || cert.Subject.CommonName != user {
		return nil, fmt.Errorf("certificate %s does not belong to %q", row.Serial, user)
	}
	p, err := PrincipalOf(r, row.Owner, MethodCertificate)
	if errors.Is(err, ErrUnauthenticated) {
		return nil, fmt.Errorf("account %q is inactive or gone", user)
	}
	return p, err
}
