package authz

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/open-policy-agent/opa/v1/bundle"
)

// BundleSigner signs served bundles the way OPA verifies them: a
// .signatures.json holding a JWT over every file's SHA-256, under a key
// ID that agents name in their bundle's signing configuration.
type BundleSigner struct {
	config    *bundle.SigningConfig
	keyID     string
	algorithm string
}

// NewBundleSigner takes a private key (RSA of 2048 bits or more: RS256;
// ECDSA P-256, P-384, P-521: ES256, ES384, ES512) and the key ID agents
// know it by.
func NewBundleSigner(key crypto.Signer, keyID string) (*BundleSigner, error) {
	if keyID == "" {
		return nil, errors.New("bundle signing: no key ID")
	}
	var alg string
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("bundle signing: an RSA key of %d bits is too weak (2048 or more)", k.N.BitLen())
		}
		alg = "RS256"
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			alg = "ES256"
		case elliptic.P384():
			alg = "ES384"
		case elliptic.P521():
			alg = "ES512"
		default:
			return nil, errors.New("bundle signing: an ECDSA key must be on P-256, P-384 or P-521")
		}
	default:
		return nil, fmt.Errorf("bundle signing: a %T key is not supported (RSA or ECDSA)", key)
	}
	// OPA's signing takes the key as PEM.
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("bundle signing: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	s := &BundleSigner{config: bundle.NewSigningConfig(string(keyPEM), alg, ""), keyID: keyID, algorithm: alg}
	if _, err := s.config.GetPrivateKey(); err != nil {
		return nil, fmt.Errorf("bundle signing: %w", err)
	}
	return s, nil
}

// Algorithm is the JWT algorithm the signatures use, for the agents'
// keys configuration.
func (s *BundleSigner) Algorithm() string { return s.algorithm }

// KeyID is the key ID the signatures carry.
func (s *BundleSigner) KeyID() string { return s.keyID }

// sign adds the signatures file to b.
func (s *BundleSigner) sign(b *bundle.Bundle) error {
	if s == nil {
		return nil
	}
	if err := b.GenerateSignature(s.config, s.keyID, false); err != nil {
		return fmt.Errorf("sign bundle: %w", err)
	}
	return nil
}
