package server

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"time"

	"github.com/grantd/grantd/rights"
	"github.com/grantd/grantd/subjects"

	"github.com/grantd/grantd/pki"
	v1 "github.com/grantd/grantd/proto/grantd/v1"
	"github.com/grantd/grantd/store"
)

// bundleService issues client bundles: certificates of grantd's client CA
// with CN = the account name, recorded in the state so that every adapter
// can refuse a revoked or expired one, or one of an inactive account.
// Users manage their own bundles; system admins any account's, service
// accounts included.
type bundleService struct {
	v1.UnimplementedBundleServiceServer
	*writer
	ca  *pki.ClientCA
	cfg BundleConfig
}

// validity is the requested validity, the configured one by default and
// at most.
func (s *bundleService) validity(days int32) (time.Duration, error) {
	if days < 0 {
		return 0, invalid("validity_days must not be negative")
	}
	if days == 0 {
		return s.cfg.Validity, nil
	}
	d := time.Duration(days) * 24 * time.Hour
	if d > s.cfg.Validity {
		return 0, invalid("validity_days: at most %d days on this server", int(s.cfg.Validity/(24*time.Hour)))
	}
	return d, nil
}

// certify issues and records a certificate for pub.
func (s *bundleService) certify(ctx context.Context, owner subjects.Subject, label string, days int32, pub crypto.PublicKey) (*x509.Certificate, *store.ClientCert, uint64, error) {
	validity, err := s.validity(days)
	if err != nil {
		return nil, nil, 0, err
	}
	now := s.now()
	cert, err := s.ca.Issue(owner.Name, pub, now, validity)
	if err != nil {
		return nil, nil, 0, err
	}
	row := store.ClientCert{Serial: pki.CertSerial(cert), Owner: owner, Label: label, PublicKey: pki.KeyFingerprint(cert),
		NotBefore: cert.NotBefore, NotAfter: cert.NotAfter}
	rev, err := s.apply(ctx, store.IssueClientCert{Cert: row})
	if err != nil {
		return nil, nil, 0, err
	}
	return cert, &row, rev, nil
}

func (s *bundleService) CreateBundle(ctx context.Context, req *v1.CreateBundleRequest) (*v1.CreateBundleResponse, error) {
	owner, err := newCredentialOwner(ctx, req.GetOwner())
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	cert, row, rev, err := s.certify(ctx, owner, req.GetLabel(), req.GetValidityDays(), key.Public())
	if err != nil {
		return nil, err
	}
	caPEM, err := pki.ClientCAPEM(s.store)
	if err != nil {
		return nil, err
	}
	zip, err := bundleZip(s.cfg, key, cert, caPEM)
	if err != nil {
		return nil, err
	}
	return &v1.CreateBundleResponse{Bundle: bundlePB(row), Zip: zip, Revision: rev}, nil
}

func (s *bundleService) RegisterPublicKey(ctx context.Context, req *v1.RegisterPublicKeyRequest) (*v1.RegisterPublicKeyResponse, error) {
	owner, err := newCredentialOwner(ctx, req.GetOwner())
	if err != nil {
		return nil, err
	}
	pub, err := pki.ParsePublicKey(req.GetPem())
	if err != nil {
		return nil, invalid("%v", err)
	}
	cert, row, rev, err := s.certify(ctx, owner, req.GetLabel(), req.GetValidityDays(), pub)
	if err != nil {
		return nil, err
	}
	caPEM := s.cfg.DockerCAPEM
	if caPEM == "" {
		if caPEM, err = pki.ClientCAPEM(s.store); err != nil {
			return nil, err
		}
	}
	return &v1.RegisterPublicKeyResponse{Bundle: bundlePB(row), Revision: rev, CaPem: caPEM,
		CertificatePem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))}, nil
}

// ListBundles lists the caller's bundles; admins may name an account, or
// "*" for every account.
func (s *bundleService) ListBundles(ctx context.Context, req *v1.ListBundlesRequest) (*v1.ListBundlesResponse, error) {
	var owner subjects.Subject // every account's
	if req.GetOwner() == "*" {
		if err := rights.ListEveryAccount(principalFrom(ctx)); err != nil {
			return nil, err
		}
	} else {
		var err error
		if owner, err = credentialOwner(ctx, req.GetOwner()); err != nil {
			return nil, err
		}
	}
	all, err := s.store.Read().ClientCerts(owner)
	if err != nil {
		return nil, err
	}
	out := &v1.ListBundlesResponse{}
	for _, c := range all {
		out.Bundles = append(out.Bundles, bundlePB(c))
	}
	return out, nil
}

// owned finds a certificate the caller may manage: their own, or any for
// a system admin. Others' serials are "not found", so that nobody learns
// about other accounts' certificates.
func (s *bundleService) owned(ctx context.Context, serial string) (*store.ClientCert, error) {
	c, err := s.store.Read().ClientCert(serial)
	if err != nil {
		return nil, err
	}
	p := principalFrom(ctx)
	if c == nil || !rights.ManagesCredential(p, c.Owner) {
		return nil, notFound("bundle %q not found", serial)
	}
	return c, nil
}

func (s *bundleService) UpdateBundle(ctx context.Context, req *v1.UpdateBundleRequest) (*v1.UpdateBundleResponse, error) {
	if _, err := s.owned(ctx, req.GetSerial()); err != nil {
		return nil, err
	}
	rev, err := s.apply(ctx, store.UpdateClientCert{Serial: req.GetSerial(), Label: req.GetLabel()})
	if err != nil {
		return nil, err
	}
	c, err := s.store.Read().ClientCert(req.GetSerial())
	if err != nil || c == nil {
		return nil, notFound("bundle %q not found", req.GetSerial())
	}
	return &v1.UpdateBundleResponse{Bundle: bundlePB(c), Revision: rev}, nil
}

func (s *bundleService) RevokeBundle(ctx context.Context, req *v1.RevokeBundleRequest) (*v1.RevokeBundleResponse, error) {
	if _, err := s.owned(ctx, req.GetSerial()); err != nil {
		return nil, err
	}
	rev, err := s.apply(ctx, store.RevokeClientCert{Serial: req.GetSerial()})
	if err != nil {
		return nil, err
	}
	return &v1.RevokeBundleResponse{Revision: rev}, nil
}

func (s *bundleService) GetClientCA(context.Context, *v1.GetClientCARequest) (*v1.ClientCA, error) {
	ca, err := s.ca.Certificate()
	if err != nil {
		return nil, unavailable("the client CA is not created yet")
	}
	return &v1.ClientCA{CaPem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})),
		NotAfter: ca.NotAfter.UTC().Format(time.RFC3339)}, nil
}

func bundlePB(c *store.ClientCert) *v1.Bundle {
	return &v1.Bundle{Serial: c.Serial, Owner: c.Owner.String(), Label: c.Label, PublicKeyFingerprint: c.PublicKey,
		NotBefore: ts(c.NotBefore), NotAfter: ts(c.NotAfter), Revoked: c.Revoked}
}
