package pki

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/grantd/grantd/store"
)

// The registry token keys live in the replicated state: a root CA, which
// registries trust (their rootcertbundle), and a signing key certified by
// it, whose chain every token carries in x5c. Rotating the signing key
// keeps the root, so tokens signed before a rotation stay valid until they
// expire and registries need no change.
const (
	tokenRootID    = "registry-token-root"
	tokenSigningID = "registry-token-signing"
	// Validity of the root and of each signing key.
	tokenRootValidity    = 20 * 365 * 24 * time.Hour
	tokenSigningValidity = 2 * 365 * 24 * time.Hour
)

// Token signing algorithms.
const (
	AlgorithmES256 = "ES256"
	AlgorithmRS256 = "RS256"
)

// EnsureTokenKeys creates the registry token root and signing key on first
// start, and a new signing key when the configured algorithm changed or the
// key is within a month of expiry.
func EnsureTokenKeys(ctx context.Context, st *store.Store, algorithm string, now time.Time) error {
	if algorithm != AlgorithmES256 && algorithm != AlgorithmRS256 {
		return fmt.Errorf("registry token algorithm %q: want ES256 or RS256", algorithm)
	}
	r := st.Read()
	root, err := r.KeyMaterial(tokenRootID)
	if err != nil {
		return err
	}
	if root == nil {
		m, err := newTokenRoot(now)
		if err != nil {
			return err
		}
		if _, err := st.Apply(ctx, store.Audited{Actor: "system", Time: now, Command: store.PutKeyMaterial{Material: m}}); err != nil && !errors.Is(err, store.ErrAlreadyExists) {
			return err
		}
	}
	leaf, err := st.Read().KeyMaterial(tokenSigningID)
	if err != nil {
		return err
	}
	if leaf != nil {
		cert, _, err := parseKeyPair(leaf)
		if err == nil && tokenAlgorithm(cert) == algorithm && now.Add(30*24*time.Hour).Before(cert.NotAfter) {
			return nil
		}
	}
	_, err = RotateTokenKey(ctx, st, algorithm, now, "system")
	return err
}

// RotateTokenKey replaces the signing key with a new one of algorithm,
// certified by the root.
func RotateTokenKey(ctx context.Context, st *store.Store, algorithm string, now time.Time, actor string) (uint64, error) {
	row, err := st.Read().KeyMaterial(tokenRootID)
	if err != nil || row == nil {
		return 0, fmt.Errorf("registry token root missing: %v", err)
	}
	root, rootKey, err := parseKeyPair(row)
	if err != nil {
		return 0, err
	}
	var key crypto.Signer
	if algorithm == AlgorithmRS256 {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return 0, err
	}
	tmpl := &x509.Certificate{SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: "grantd registry token signing " + now.UTC().Format("2006-01-02T15:04:05Z")},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(tokenSigningValidity), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root, key.Public(), rootKey)
	if err != nil {
		return 0, err
	}
	m, err := keyMaterial(tokenSigningID, der, key)
	if err != nil {
		return 0, err
	}
	return st.Apply(ctx, store.Audited{Actor: actor, Time: now, Command: store.PutKeyMaterial{Material: m, Replace: true}})
}

func newTokenRoot(now time.Time) (store.KeyMaterial, error) {
	return newRootCA(tokenRootID, "grantd registry token root", now, tokenRootValidity)
}

// newRootCA is a self-signed P-256 CA kept in the state as id.
func newRootCA(id, name string, now time.Time, validity time.Duration) (store.KeyMaterial, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return store.KeyMaterial{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(validity), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return store.KeyMaterial{}, err
	}
	return keyMaterial(id, der, key)
}

func keyMaterial(id string, der []byte, key crypto.Signer) (store.KeyMaterial, error) {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return store.KeyMaterial{}, err
	}
	return store.KeyMaterial{ID: id, CertPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		KeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))}, nil
}

func parseKeyPair(m *store.KeyMaterial) (*x509.Certificate, crypto.Signer, error) {
	cb, _ := pem.Decode([]byte(m.CertPEM))
	kb, _ := pem.Decode([]byte(m.KeyPEM))
	if cb == nil || kb == nil {
		return nil, nil, fmt.Errorf("key material %s: not PEM", m.ID)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("key material %s: not a signing key", m.ID)
	}
	return cert, signer, nil
}

func tokenAlgorithm(cert *x509.Certificate) string {
	if _, ok := cert.PublicKey.(*rsa.PublicKey); ok {
		return AlgorithmRS256
	}
	return AlgorithmES256
}

// SigningKeys are the registry token signing key, its algorithm (a JOSE
// name: ES256 or RS256), its certificate chain leaf first, and the root
// registries trust.
type SigningKeys struct {
	Key       crypto.Signer
	Algorithm string
	Chain     [][]byte
	Roots     *x509.CertPool
}

// TokenKeys loads the signing keys from the state, parsed once per key.
type TokenKeys struct {
	store *store.Store
	mu    sync.Mutex
	pem   string
	keys  *SigningKeys
}

// NewTokenKeys reads the registry token keys from st.
func NewTokenKeys(st *store.Store) *TokenKeys { return &TokenKeys{store: st} }

// Load returns the current signing keys.
func (t *TokenKeys) Load() (*SigningKeys, error) {
	r := t.store.Read()
	leafRow, err := r.KeyMaterial(tokenSigningID)
	if err != nil || leafRow == nil {
		return nil, fmt.Errorf("registry token signing key missing: %v", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.keys != nil && t.pem == leafRow.CertPEM {
		return t.keys, nil
	}
	rootRow, err := r.KeyMaterial(tokenRootID)
	if err != nil || rootRow == nil {
		return nil, fmt.Errorf("registry token root missing: %v", err)
	}
	leaf, key, err := parseKeyPair(leafRow)
	if err != nil {
		return nil, err
	}
	root, _, err := parseKeyPair(rootRow)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	t.keys = &SigningKeys{Key: key, Algorithm: tokenAlgorithm(leaf), Chain: [][]byte{leaf.Raw, root.Raw}, Roots: roots}
	t.pem = leafRow.CertPEM
	return t.keys, nil
}

// TokenRootPEM is the certificate registries trust for grantd's tokens.
func TokenRootPEM(st *store.Store) (string, error) {
	row, err := st.Read().KeyMaterial(tokenRootID)
	if err != nil || row == nil {
		return "", fmt.Errorf("registry token root missing: %v", err)
	}
	return row.CertPEM, nil
}

// TokenSigning describes the registry token keys for operators.
type TokenSigning struct {
	RootPEM, SigningPEM string
	Algorithm           string
	SigningNotAfter     time.Time
}

// TokenSigningOf reads the registry token keys' description; nil when
// they are not created yet.
func TokenSigningOf(st *store.Store) (*TokenSigning, error) {
	r := st.Read()
	root, err := r.KeyMaterial(tokenRootID)
	if err != nil {
		return nil, err
	}
	leaf, err := r.KeyMaterial(tokenSigningID)
	if err != nil || root == nil || leaf == nil {
		return nil, err
	}
	cert, _, err := parseKeyPair(leaf)
	if err != nil {
		return nil, err
	}
	return &TokenSigning{RootPEM: root.CertPEM, SigningPEM: leaf.CertPEM, Algorithm: tokenAlgorithm(cert),
		SigningNotAfter: cert.NotAfter}, nil
}
