package pki

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/grantd/grantd/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(store.DefaultConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The key material is written with audited commands, which need the
	// settings of a bootstrapped state.
	boot := store.Bootstrap{Admin: store.User{Name: "admin", Source: store.SourceLocal}, Time: time.Now(),
		SharedGrantID: "shared", AdminGrantID: "admin"}
	if _, err := st.Apply(context.Background(), boot); err != nil {
		t.Fatal(err)
	}
	return st
}

// The client CA is created once, issues client certificates for a name,
// and verifies its own certificates only.
func TestClientCAIssuesAndVerifies(t *testing.T) {
	st := openStore(t)
	now := time.Now()
	ctx := context.Background()
	if err := EnsureClientCA(ctx, st, "", "", now); err != nil {
		t.Fatal(err)
	}
	first, err := ClientCAPEM(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := EnsureClientCA(ctx, st, "", "", now); err != nil {
		t.Fatal(err)
	}
	if again, _ := ClientCAPEM(st); again != first {
		t.Error("a second start replaced the client CA")
	}
	ca := NewClientCA(st)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert, err := ca.Issue("maria", key.Public(), now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "maria" || !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		t.Errorf("issued %v %v", cert.Subject, cert.ExtKeyUsage)
	}
	if err := ca.Verify(cert); err != nil {
		t.Errorf("its own certificate: %v", err)
	}
	if err := ca.Verify(cert); err != nil { // the remembered signature
		t.Errorf("its own certificate, again: %v", err)
	}
	if err := ca.Verify(selfSigned(t, "maria")); !errors.Is(err, ErrNotIssued) {
		t.Errorf("a foreign certificate: %v, want ErrNotIssued", err)
	}
	if CertSerial(cert) == "" || len(KeyFingerprint(cert)) != 64 {
		t.Errorf("serial %q, fingerprint %q", CertSerial(cert), KeyFingerprint(cert))
	}
}

func TestParsePublicKeyAcceptsOnlyDockerKeys(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	pemOf := func(pub any) string {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	if _, err := ParsePublicKey(pemOf(ec.Public())); err != nil {
		t.Errorf("a P-256 key: %v", err)
	}
	for name, text := range map[string]string{"RSA-1024": pemOf(small.Public()), "not PEM": "hello",
		"a certificate": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: selfSigned(t, "x").Raw}))} {
		if _, err := ParsePublicKey(text); err == nil {
			t.Errorf("%s was accepted", name)
		}
	}
}

// The token keys: a root kept across rotations, a signing key of the
// configured algorithm, renewed when the algorithm changes.
func TestTokenKeysRotateUnderOneRoot(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	now := time.Now()
	if err := EnsureTokenKeys(ctx, st, AlgorithmES256, now); err != nil {
		t.Fatal(err)
	}
	keys := NewTokenKeys(st)
	k1, err := keys.Load()
	if err != nil || k1.Algorithm != AlgorithmES256 || len(k1.Chain) != 2 {
		t.Fatalf("keys %+v, %v", k1, err)
	}
	root, _ := TokenRootPEM(st)
	if err := EnsureTokenKeys(ctx, st, AlgorithmRS256, now); err != nil {
		t.Fatal(err)
	}
	k2, err := keys.Load()
	if err != nil || k2.Algorithm != AlgorithmRS256 || bytes.Equal(k1.Chain[0], k2.Chain[0]) {
		t.Fatalf("after a change of algorithm: %+v, %v", k2, err)
	}
	if again, _ := TokenRootPEM(st); again != root {
		t.Error("a rotation replaced the root registries trust")
	}
	info, err := TokenSigningOf(st)
	if err != nil || info.Algorithm != AlgorithmRS256 || info.RootPEM != root {
		t.Errorf("signing info %+v, %v", info, err)
	}
	if err := EnsureTokenKeys(ctx, st, "HS256", now); err == nil {
		t.Error("HS256 was accepted")
	}
}

// The serving material: a CA and a certificate for the names asked, kept
// across starts, and a TLS configuration with AEAD suites only.
func TestServerTLSMaterial(t *testing.T) {
	dir := t.TempDir()
	files, err := EnsureTLS(dir, "", "", []string{"grantd.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	caBefore, _ := os.ReadFile(files.CA)
	if _, err := EnsureTLS(dir, "", "", []string{"grantd.example.com", "10.1.2.3"}); err != nil {
		t.Fatal(err)
	}
	caAfter, _ := os.ReadFile(files.CA)
	if !bytes.Equal(caBefore, caAfter) {
		t.Error("new names replaced the CA")
	}
	tc, err := ServerTLSConfig(files)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(tc.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if leaf.VerifyHostname("10.1.2.3") != nil || leaf.VerifyHostname("localhost") != nil {
		t.Errorf("certificate names %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
	for _, id := range tc.CipherSuites {
		for _, weak := range tls.InsecureCipherSuites() {
			if id == weak.ID {
				t.Errorf("offers %s", weak.Name)
			}
		}
	}
	if tc.MinVersion != tls.VersionTLS12 {
		t.Errorf("minimum version %x", tc.MinVersion)
	}
}

func selfSigned(t *testing.T, cn string) *x509.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// TestParsePrivateKey reads the three PEM encodings of a private key and
// refuses what is not one.
func TestParsePrivateKey(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(ec)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	pub, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	good := map[string][]byte{
		"PKCS #8": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		"SEC 1":   pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}),
		"PKCS #1": pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rs)}),
	}
	for name, b := range good {
		if _, err := ParsePrivateKey(b); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := map[string][]byte{
		"not PEM":    []byte("secret"),
		"public key": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
		"garbage":    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("x")}),
	}
	for name, b := range bad {
		if _, err := ParsePrivateKey(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
