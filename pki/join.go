package pki

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/grantd/grantd/store"
)

// Joining a cluster. A join token is an ID and a 32-byte secret; the
// cluster keeps both in its state, the joining node gets them from the
// operator. The node sends the ID and a MAC made with the secret over its
// request (its ID, address, public key and a nonce), never the secret;
// the node that admits it answers with the cluster CA, the node's
// certificate and a MAC over those and the nonce. Neither side trusts the
// API's TLS certificate for this: whoever sits in between learns no
// secret and cannot forge either message.
//
// Admitting nodes needs the cluster CA's key in the state. A node whose
// --cluster-certs-dir holds cluster-ca-key.pem puts it there
// (EnsureClusterCA); a CA kept offline admits nodes by `grantd cluster
// certs` and `grantctl cluster add` only.

const (
	// ClusterCAID names the cluster CA's key material in the state.
	ClusterCAID     = "cluster-ca"
	joinTokenPrefix = "GRANTDJOIN1"
	// joinSecretBytes is the secret's length: guessing it is hopeless, so
	// joins need no throttling.
	joinSecretBytes = 32
	// JoinNonceBytes is the length of the joining node's nonce.
	JoinNonceBytes = 32
)

// ErrNoClusterCA is returned when the state holds no cluster CA key.
var ErrNoClusterCA = errors.New("the cluster CA key is not in the cluster's state: " +
	"start a node whose --cluster-certs-dir holds cluster-ca-key.pem (grantd cluster certs) to admit nodes by join token")

// JoinToken is a join token's two parts.
type JoinToken struct {
	ID     string
	Secret []byte
}

// NewJoinToken makes a random token.
func NewJoinToken() (JoinToken, error) {
	id := make([]byte, 8)
	secret := make([]byte, joinSecretBytes)
	if _, err := rand.Read(id); err != nil {
		return JoinToken{}, err
	}
	if _, err := rand.Read(secret); err != nil {
		return JoinToken{}, err
	}
	return JoinToken{ID: hex.EncodeToString(id), Secret: secret}, nil
}

// String is the token as the operator passes it on.
func (t JoinToken) String() string {
	return joinTokenPrefix + "." + t.ID + "." + base64.RawURLEncoding.EncodeToString(t.Secret)
}

// ParseJoinToken reads a token written by String.
func ParseJoinToken(s string) (JoinToken, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) != 3 || parts[0] != joinTokenPrefix {
		return JoinToken{}, errors.New("not a grantd join token (GRANTDJOIN1.<id>.<secret>)")
	}
	if _, err := hex.DecodeString(parts[1]); err != nil || len(parts[1]) != 16 {
		return JoinToken{}, errors.New("join token: malformed ID")
	}
	secret, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(secret) != joinSecretBytes {
		return JoinToken{}, errors.New("join token: malformed secret")
	}
	return JoinToken{ID: parts[1], Secret: secret}, nil
}

// JoinRequest is what a joining node's MAC covers.
type JoinRequest struct {
	TokenID, NodeID, Address, PublicKeyPEM string
	Nonce                                  []byte
}

// MAC is the request's HMAC-SHA256 with the token's secret.
func (r JoinRequest) MAC(secret []byte) []byte {
	return joinMAC(secret, "grantd join request v1", []byte(r.TokenID), []byte(r.NodeID), []byte(r.Address),
		[]byte(r.PublicKeyPEM), r.Nonce)
}

// JoinAnswer is what the admitting node's MAC covers.
type JoinAnswer struct {
	Nonce              []byte
	CACertPEM, CertPEM string
	Voter              bool
}

// MAC is the answer's HMAC-SHA256 with the token's secret.
func (a JoinAnswer) MAC(secret []byte) []byte {
	voter := []byte{0}
	if a.Voter {
		voter[0] = 1
	}
	return joinMAC(secret, "grantd join answer v1", a.Nonce, []byte(a.CACertPEM), []byte(a.CertPEM), voter)
}

// joinMAC writes each field with its length first, so no two different
// field lists give the same input.
func joinMAC(secret []byte, label string, fields ...[]byte) []byte {
	m := hmac.New(sha256.New, secret)
	var n [8]byte
	for _, f := range append([][]byte{[]byte(label)}, fields...) {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		m.Write(n[:])
		m.Write(f)
	}
	return m.Sum(nil)
}

// EnsureClusterCA puts the cluster CA found in dir (cluster-ca.pem and
// cluster-ca-key.pem) into the state when the state has none, so that
// every node can admit joining nodes. Without the key in dir it does
// nothing. A different CA already in the state is an error: the nodes
// would not trust each other.
func EnsureClusterCA(ctx context.Context, st *store.Store, dir string, now time.Time) error {
	certFile, keyFile := clusterCAFiles(dir)
	if _, err := os.Stat(keyFile); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	m, err := operatorCA(ClusterCAID, "cluster CA", certFile, keyFile)
	if err != nil {
		return err
	}
	row, err := st.Read().KeyMaterial(ClusterCAID)
	if err != nil {
		return err
	}
	if row != nil {
		if row.CertPEM != m.CertPEM {
			return fmt.Errorf("cluster CA: %s differs from the cluster CA in the state", certFile)
		}
		return nil
	}
	_, err = st.Apply(ctx, store.Audited{Actor: "system", Time: now, Command: store.PutKeyMaterial{Material: m}})
	if errors.Is(err, store.ErrAlreadyExists) {
		return nil // another node put it there first
	}
	return err
}

// IssueJoinedNodeCert signs a certificate for a joining node's public key
// with the cluster CA in the state, and returns the CA's and the node's
// certificates (PEM).
func IssueJoinedNodeCert(st *store.Store, node string, pub crypto.PublicKey, now time.Time) (caPEM, certPEM string, err error) {
	row, err := st.Read().KeyMaterial(ClusterCAID)
	if err != nil {
		return "", "", err
	}
	if row == nil {
		return "", "", ErrNoClusterCA
	}
	ca, caKey, err := parseKeyPair(row)
	if err != nil {
		return "", "", err
	}
	der, err := x509.CreateCertificate(rand.Reader, nodeCertTemplate(node, now), ca, pub, caKey)
	if err != nil {
		return "", "", err
	}
	return row.CertPEM, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), nil
}

// NewNodeKey is a joining node's key pair, and its public key as PEM.
func NewNodeKey() (*ecdsa.PrivateKey, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", err
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, "", err
	}
	return key, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// WriteJoinedNode writes what a joined node got (the CA, its certificate)
// and its key into dir, checking first that the certificate is the CA's
// and for the key.
func WriteJoinedNode(dir, node string, key *ecdsa.PrivateKey, caPEM, certPEM string) error {
	cb, _ := pem.Decode([]byte(caPEM))
	nb, _ := pem.Decode([]byte(certPEM))
	if cb == nil || nb == nil {
		return errors.New("join: the answer's certificates are not PEM")
	}
	ca, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return fmt.Errorf("join: cluster CA: %w", err)
	}
	cert, err := x509.ParseCertificate(nb.Bytes)
	if err != nil {
		return fmt.Errorf("join: node certificate: %w", err)
	}
	if err := cert.CheckSignatureFrom(ca); err != nil || !publicKeysEqual(key.Public(), cert.PublicKey) {
		return errors.New("join: the node certificate is not the cluster CA's for this node's key")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f := ClusterFilesIn(dir, node)
	if err := writeFileAtomic(f.CA, []byte(caPEM), 0o644); err != nil {
		return err
	}
	return writePair(f.Cert, f.Key, cert.Raw, key)
}
