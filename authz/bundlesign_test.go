package authz

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	mrand "math/rand/v2"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/bundle"
)

func pemPublic(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// readSigned reads a served bundle with OPA's own bundle reader,
// verifying its signature with pub under keyID.
func readSigned(raw []byte, keyID, pub, alg string) error {
	vc := bundle.NewVerificationConfig(map[string]*bundle.KeyConfig{keyID: {Key: pub, Algorithm: alg}}, keyID, "", nil)
	_, err := bundle.NewCustomReader(bundle.NewTarballLoader(bytes.NewReader(raw))).WithBundleVerificationConfig(vc).Read()
	return err
}

// TestServedBundlesVerifyWithOPA: a bundle served with a signer passes
// OPA's verification with the matching public key, and fails it with
// another key, or unsigned when the agent requires a signature.
func TestServedBundlesVerifyWithOPA(t *testing.T) {
	v := newEnv(t)
	g := &gen{rng: mrand.New(mrand.NewPCG(1, 2)), v: v}
	g.populate()
	e := v.e
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, c := range []struct {
		key crypto.Signer
		pub any
		alg string
	}{{ec, &ec.PublicKey, "ES256"}, {rs, &rs.PublicKey, "RS256"}} {
		s, err := NewBundleSigner(c.key, "grantd-test")
		if err != nil {
			t.Fatal(err)
		}
		if s.Algorithm() != c.alg {
			t.Fatalf("algorithm %s, want %s", s.Algorithm(), c.alg)
		}
		raw, _, unchanged, err := e.ServeBundle(^uint64(0), s)
		if err != nil || unchanged {
			t.Fatalf("serve: %v %v", err, unchanged)
		}
		if err := readSigned(raw, "grantd-test", pemPublic(t, c.pub), c.alg); err != nil {
			t.Fatalf("%s: OPA refuses the signed bundle: %v", c.alg, err)
		}
		if err := readSigned(raw, "grantd-test", pemPublic(t, &other.PublicKey), "ES256"); err == nil {
			t.Fatalf("%s: OPA accepts the bundle with another key", c.alg)
		}
	}
	unsigned, _, _, err := e.ServeBundle(^uint64(0), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := readSigned(unsigned, "grantd-test", pemPublic(t, &ec.PublicKey), "ES256"); err == nil || !strings.Contains(err.Error(), "signatures") {
		t.Fatalf("an unsigned bundle where a signature is required: %v", err)
	}
	// The export stays unsigned: OPA reads it without a key.
	export, _, err := e.ExportBundle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.NewCustomReader(bundle.NewTarballLoader(bytes.NewReader(export))).Read(); err != nil {
		t.Fatalf("the export does not read without a key: %v", err)
	}
}

// TestBundleSignerRefusesWeakOrUnsupportedKeys: a key agents could not
// verify, or should not trust, is an error at start-up, not a bundle no
// agent accepts.
func TestBundleSignerRefusesWeakOrUnsupportedKeys(t *testing.T) {
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	for name, key := range map[string]crypto.Signer{"RSA 1024": weak, "Ed25519": ed, "ECDSA P-224": p224} {
		if _, err := NewBundleSigner(key, "k"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := NewBundleSigner(ec, ""); err == nil {
		t.Error("an empty key ID: accepted")
	}
}
