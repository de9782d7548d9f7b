package pki

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestJoinTokenRoundTripAndMalformed(t *testing.T) {
	tok, err := NewJoinToken()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseJoinToken(" " + tok.String() + "\n")
	if err != nil || back.ID != tok.ID || !bytes.Equal(back.Secret, tok.Secret) {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	s := tok.String()
	for _, bad := range []string{"", "GRANTDJOIN1", strings.Replace(s, "GRANTDJOIN1", "GRANTDJOIN2", 1),
		s[:len(s)-2], strings.Replace(s, tok.ID, "zz"+tok.ID[2:], 1), s + ".x"} {
		if _, err := ParseJoinToken(bad); err == nil {
			t.Errorf("ParseJoinToken(%q) accepted", bad)
		}
	}
}

// Each field counts, and no two field lists share a MAC by moving bytes
// across a field boundary.
func TestJoinMACsCoverEveryField(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	base := JoinRequest{TokenID: "0011223344556677", NodeID: "node2", Address: "10.0.0.2:8301", PublicKeyPEM: "PEM", Nonce: []byte("nonce")}
	seen := map[string]string{string(base.MAC(secret)): "base"}
	for name, r := range map[string]JoinRequest{
		"token":    {TokenID: "0011223344556678", NodeID: base.NodeID, Address: base.Address, PublicKeyPEM: base.PublicKeyPEM, Nonce: base.Nonce},
		"node":     {TokenID: base.TokenID, NodeID: "node3", Address: base.Address, PublicKeyPEM: base.PublicKeyPEM, Nonce: base.Nonce},
		"boundary": {TokenID: base.TokenID, NodeID: "node210.0.0.2:8301", Address: "", PublicKeyPEM: base.PublicKeyPEM, Nonce: base.Nonce},
		"address":  {TokenID: base.TokenID, NodeID: base.NodeID, Address: "10.0.0.9:8301", PublicKeyPEM: base.PublicKeyPEM, Nonce: base.Nonce},
		"key":      {TokenID: base.TokenID, NodeID: base.NodeID, Address: base.Address, PublicKeyPEM: "PEN", Nonce: base.Nonce},
		"nonce":    {TokenID: base.TokenID, NodeID: base.NodeID, Address: base.Address, PublicKeyPEM: base.PublicKeyPEM, Nonce: []byte("nonce2")},
	} {
		mac := string(r.MAC(secret))
		if other, ok := seen[mac]; ok {
			t.Errorf("request MAC of %s equals that of %s", name, other)
		}
		seen[mac] = name
	}
	if bytes.Equal(base.MAC(secret), base.MAC(bytes.Repeat([]byte{8}, 32))) {
		t.Error("the secret does not change the MAC")
	}
	a := JoinAnswer{Nonce: []byte("n"), CACertPEM: "ca", CertPEM: "cert", Voter: true}
	b := a
	b.Voter = false
	if bytes.Equal(a.MAC(secret), b.MAC(secret)) {
		t.Error("the answer's MAC does not cover voter")
	}
	// A request MAC never passes for an answer's.
	if bytes.Equal(JoinAnswer{Nonce: base.Nonce}.MAC(secret), JoinRequest{Nonce: base.Nonce}.MAC(secret)) {
		t.Error("request and answer MACs are not told apart")
	}
}

// The cluster CA goes into the state from a certs directory holding its
// key, signs joining nodes' keys, and a joined node keeps only a
// certificate the CA signed for its own key.
func TestClusterCAAdmitsJoiningNodes(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	now := time.Now()
	key, pubPEM, err := NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := IssueJoinedNodeCert(st, "node2", pub, now); !errors.Is(err, ErrNoClusterCA) {
		t.Fatalf("without a CA in the state: %v", err)
	}
	// A directory without the CA key puts nothing there.
	offline := t.TempDir()
	if err := IssueNodeCerts(offline, []string{"node1"}, now); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(offline, "cluster-ca-key.pem"), filepath.Join(t.TempDir(), "away.pem")); err != nil {
		t.Fatal(err)
	}
	if err := EnsureClusterCA(ctx, st, offline, now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := IssueJoinedNodeCert(st, "node2", pub, now); !errors.Is(err, ErrNoClusterCA) {
		t.Fatalf("a CA kept offline went into the state: %v", err)
	}
	dir := t.TempDir()
	if err := IssueNodeCerts(dir, []string{"node1"}, now); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second start finds it there
		if err := EnsureClusterCA(ctx, st, dir, now); err != nil {
			t.Fatal(err)
		}
	}
	other := t.TempDir()
	if err := IssueNodeCerts(other, []string{"node1"}, now); err != nil {
		t.Fatal(err)
	}
	if err := EnsureClusterCA(ctx, st, other, now); err == nil {
		t.Fatal("a second, different cluster CA was accepted")
	}
	caPEM, certPEM, err := IssueJoinedNodeCert(st, "node2", pub, now)
	if err != nil {
		t.Fatal(err)
	}
	onDisk, _ := os.ReadFile(filepath.Join(dir, "cluster-ca.pem"))
	if caPEM != string(onDisk) {
		t.Error("the CA in the answer is not the founding node's")
	}
	block, _ := pem.Decode([]byte(certPEM))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || cert.Subject.CommonName != "node2" {
		t.Fatalf("node certificate: %v %v", cert, err)
	}
	// The joined node's TLS configuration trusts its peers' certificates.
	joined := t.TempDir()
	if err := WriteJoinedNode(joined, "node2", key, caPEM, certPEM); err != nil {
		t.Fatal(err)
	}
	if _, err := ClusterTLSConfig(ClusterFilesIn(joined, "node2")); err != nil {
		t.Fatal(err)
	}
	// A certificate for another key, or from another CA, is refused.
	otherKey, _, _ := NewNodeKey()
	if err := WriteJoinedNode(t.TempDir(), "node2", otherKey, caPEM, certPEM); err == nil {
		t.Error("a certificate for another key was kept")
	}
	otherCA, _ := os.ReadFile(filepath.Join(other, "cluster-ca.pem"))
	if err := WriteJoinedNode(t.TempDir(), "node2", key, string(otherCA), certPEM); err == nil {
		t.Error("a certificate from another CA was kept")
	}
}
