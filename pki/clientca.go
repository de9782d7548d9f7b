package pki

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/grantd/grantd/store"
)

// The client CA signs the certificates of client bundles. Docker daemons
// trust it for client certificates (dockerd --tlscacert), and the engine
// plugin accepts only certificates it issued and recorded. It lives in the
// replicated state like the registry token keys, so every node of a
// cluster issues and checks the same certificates.
const (
	clientCAID       = "client-ca"
	clientCAValidity = 20 * 365 * 24 * time.Hour
)

// EnsureClientCA creates the client CA on first start, or installs the
// operator's own CA from certFile and keyFile (both or neither) when it
// differs from the stored one.
func EnsureClientCA(ctx context.Context, st *store.Store, certFile, keyFile string, now time.Time) error {
	if (certFile == "") != (keyFile == "") {
		return errors.New("client CA: give both the certificate and the key, or neither")
	}
	row, err := st.Read().KeyMaterial(clientCAID)
	if err != nil {
		return err
	}
	if certFile != "" {
		m, err := operatorCA(clientCAID, "client CA", certFile, keyFile)
		if err != nil {
			return err
		}
		if row != nil && row.CertPEM == m.CertPEM && row.KeyPEM == m.KeyPEM {
			return nil
		}
		_, err = st.Apply(ctx, store.Audited{Actor: "system", Time: now, Command: store.PutKeyMaterial{Material: m, Replace: true}})
		return err
	}
	if row != nil {
		return nil
	}
	m, err := newRootCA(clientCAID, "grantd client CA", now, clientCAValidity)
	if err != nil {
		return err
	}
	_, err = st.Apply(ctx, store.Audited{Actor: "system", Time: now, Command: store.PutKeyMaterial{Material: m}})
	if errors.Is(err, store.ErrAlreadyExists) {
		return nil // another node created it first
	}
	return err
}

// operatorCA reads an operator's CA certificate and key as key material id (PKCS#8, PKCS#1 or
// SEC 1 PEM).
func operatorCA(id, what, certFile, keyFile string) (store.KeyMaterial, error) {
	certPEM, err := os.ReadFile(certFile) //nolint:gosec // an operator-given path
	if err != nil {
		return store.KeyMaterial{}, fmt.Errorf("%s: %w", what, err)
	}
	keyPEM, err := os.ReadFile(keyFile) //nolint:gosec // an operator-given path
	if err != nil {
		return store.KeyMaterial{}, fmt.Errorf("%s: %w", what, err)
	}
	cb, _ := pem.Decode(certPEM)
	if cb == nil {
		return store.KeyMaterial{}, fmt.Errorf("%s: the certificate is not PEM", what)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return store.KeyMaterial{}, fmt.Errorf("%s: %w", what, err)
	}
	if !cert.IsCA {
		return store.KeyMaterial{}, fmt.Errorf("%s: the certificate is not a CA", what)
	}
	signer, err := ParsePrivateKey(keyPEM)
	if err != nil {
		return store.KeyMaterial{}, fmt.Errorf("%s key: %w", what, err)
	}
	if !publicKeysEqual(signer.Public(), cert.PublicKey) {
		return store.KeyMaterial{}, fmt.Errorf("%s: the key does not belong to the certificate", what)
	}
	return keyMaterial(id, cert.Raw, signer)
}

// ParsePrivateKey reads a PEM private key: PKCS #8, PKCS #1 (RSA) or
// SEC 1 (EC).
func ParsePrivateKey(keyPEM []byte) (crypto.Signer, error) {
	b, _ := pem.Decode(keyPEM)
	if b == nil {
		return nil, errors.New("the key is not PEM")
	}
	var key any
	var err error
	switch b.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("a PEM %q is not a private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)", b.Type)
	}
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T key cannot sign", key)
	}
	return signer, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

// NewClientCA reads the client CA from st.
func NewClientCA(st *store.Store) *ClientCA { return &ClientCA{store: st} }

// ClientCAPEM is the client CA certificate, for dockerd --tlscacert.
func ClientCAPEM(st *store.Store) (string, error) {
	row, err := st.Read().KeyMaterial(clientCAID)
	if err != nil || row == nil {
		return "", fmt.Errorf("client CA missing: %v", err)
	}
	return row.CertPEM, nil
}

// ClientCA is the client CA of the state, parsed again only when it
// changes. The zero value is not usable: make it with NewClientCA.
type ClientCA struct {
	store *store.Store
	mu    sync.Mutex
	pem   string
	cert  *x509.Certificate
	key   crypto.Signer
	// verified holds the SHA-256 of certificates whose signature checked
	// out against this CA: a signature never changes, and checking it is
	// most of the cost of identifying a caller. Revocation, expiry and
	// the account are checked on every request regardless.
	verified map[[32]byte]bool
}

// ErrNotIssued is a certificate the client CA did not sign.
var ErrNotIssued = errors.New("not issued by grantd's client CA")

// maxVerified bounds the verified-signature cache; when full it starts over.
const maxVerified = 10000

// Verify checks that cert is signed by the client CA (ErrNotIssued if not).
func (c *ClientCA) Verify(cert *x509.Certificate) error {
	ca, _, err := c.load()
	if err != nil {
		return err
	}
	sum := sha256.Sum256(cert.Raw)
	c.mu.Lock()
	ok := c.verified[sum] && c.cert == ca
	c.mu.Unlock()
	if ok {
		return nil
	}
	if cert.CheckSignatureFrom(ca) != nil {
		return ErrNotIssued
	}
	c.mu.Lock()
	if c.cert == ca {
		if c.verified == nil || len(c.verified) >= maxVerified {
			c.verified = map[[32]byte]bool{}
		}
		c.verified[sum] = true
	}
	c.mu.Unlock()
	return nil
}

func (c *ClientCA) load() (*x509.Certificate, crypto.Signer, error) {
	row, err := c.store.Read().KeyMaterial(clientCAID)
	if err != nil || row == nil {
		return nil, nil, fmt.Errorf("client CA missing: %v", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cert == nil || c.pem != row.CertPEM {
		if c.cert, c.key, err = parseKeyPair(row); err != nil {
			c.cert = nil
			return nil, nil, err
		}
		c.pem = row.CertPEM
		c.verified = nil // a new CA: nothing is verified against it yet
	}
	return c.cert, c.key, nil
}

// Issue certifies pub for the account name (the CN) for validity.
func (c *ClientCA) Issue(name string, pub crypto.PublicKey, now time.Time, validity time.Duration) (*x509.Certificate, error) {
	ca, caKey, err := c.load()
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-5 * time.Minute), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// CertSerial is how a certificate's serial is written in the state and API.
func CertSerial(cert *x509.Certificate) string { return hex.EncodeToString(cert.SerialNumber.Bytes()) }

// KeyFingerprint is the SHA-256 of a certificate's public key (its
// SubjectPublicKeyInfo), hex.
func KeyFingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

// ParsePublicKey reads a user's own key: a PEM public key, or a PEM
// certificate request whose signature proves they hold the private key.
// Only key types Docker clients use are accepted.
func ParsePublicKey(text string) (crypto.PublicKey, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, errors.New("pem: not a PEM public key or certificate request")
	}
	var pub crypto.PublicKey
	switch block.Type {
	case "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST":
		csr, err := x509.ParseCertificateRequest(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("pem: %v", err)
		}
		if err := csr.CheckSignature(); err != nil {
			return nil, fmt.Errorf("pem: the certificate request's signature does not verify: %v", err)
		}
		pub = csr.PublicKey
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("pem: %v", err)
		}
		pub = k
	default:
		return nil, fmt.Errorf("pem: a %q block; want PUBLIC KEY or CERTIFICATE REQUEST", block.Type)
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() && k.Curve != elliptic.P521() {
			return nil, errors.New("pem: ECDSA keys must be on P-256, P-384 or P-521")
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, errors.New("pem: RSA keys must have at least 2048 bits")
		}
	case ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("pem: unsupported key type %T", pub)
	}
	return pub, nil
}

// Certificate is the client CA's certificate.
func (c *ClientCA) Certificate() (*x509.Certificate, error) {
	cert, _, err := c.load()
	return cert, err
}
