package server

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/pki"
	"github.com/grantd/grantd/subjects"
)

// bundleCert creates a bundle over REST and returns its certificate and
// files.
func bundleCert(t testing.TB, ts *testServer, token string, body map[string]any) (*x509.Certificate, map[string]string) {
	t.Helper()
	code, out := ts.do(t, "POST", "/v1/bundles", token, body)
	if code != 200 {
		t.Fatalf("create bundle: %d %v", code, out)
	}
	raw, err := base64.StdEncoding.DecodeString(out["zip"].(string))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		_ = rc.Close()
		files[f.Name] = string(b)
	}
	return parsePEMCert(t, files["cert.pem"]), files
}

func parsePEMCert(t testing.TB, text string) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode([]byte(text))
	if blk == nil {
		t.Fatalf("no PEM in %q", text)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientBundles(t *testing.T) {
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	ts.do(t, "POST", "/v1/users", admin, map[string]any{"name": "dev", "password": "dev-password-1"})
	dev := ts.login(t, "dev", "dev-password-1")
	backend := dockerBackend{ts.srv.deps}
	ctx := context.Background()

	cert, files := bundleCert(t, ts, dev, map[string]any{"label": "laptop", "validityDays": 30})
	_, caOut := ts.do(t, "GET", "/v1/bundles/ca", dev, nil)
	ca := parsePEMCert(t, caOut["caPem"].(string))
	if err := cert.CheckSignatureFrom(ca); err != nil {
		t.Errorf("bundle certificate not signed by the client CA: %v", err)
	}
	if cert.Subject.CommonName != "dev" || len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("certificate CN %q, usages %v", cert.Subject.CommonName, cert.ExtKeyUsage)
	}
	if d := time.Until(cert.NotAfter); d < 29*24*time.Hour || d > 31*24*time.Hour {
		t.Errorf("validity %v, want 30 days", d)
	}
	if files["ca.pem"] != caOut["caPem"] || !strings.Contains(files["env.sh"], "DOCKER_CERT_PATH") ||
		!strings.Contains(files["env.ps1"], "$env:DOCKER_TLS_VERIFY = '1'") || !strings.Contains(files["key.pem"], "PRIVATE KEY") {
		t.Errorf("bundle files: %v", files)
	}
	if code, out := ts.do(t, "POST", "/v1/bundles", dev, map[string]any{"validityDays": 366}); code != 400 {
		t.Errorf("bundle beyond the longest validity: %d %v", code, out)
	}
	if code, _ := ts.do(t, "POST", "/v1/bundles", dev, map[string]any{"owner": "user:admin"}); code != 403 {
		t.Errorf("a user created a bundle for another account: %d", code)
	}

	id, err := backend.Identify(ctx, "dev", cert)
	if err != nil || id.Subject != subjects.MustParse("user:dev") || id.IsAdmin {
		t.Fatalf("identify a fresh bundle: %+v %v", id, err)
	}
	if _, err := backend.Identify(ctx, "admin", cert); err == nil {
		t.Error("a certificate identified another account than its CN")
	}
	// Expiry, by the server's clock.
	ts.skew.Store(int64(31 * 24 * time.Hour))
	if _, err := backend.Identify(ctx, "dev", cert); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired certificate: %v", err)
	}
	ts.skew.Store(0)

	// Registering one's own key: a CSR's subject is replaced by the account.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csrDER, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "admin"}}, key)
	csrPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER}))
	code, out := ts.do(t, "POST", "/v1/bundles:register", dev, map[string]any{"pem": csrPEM, "label": "yubikey"})
	if code != 200 {
		t.Fatalf("register CSR: %d %v", code, out)
	}
	own := parsePEMCert(t, out["certificatePem"].(string))
	if own.Subject.CommonName != "dev" || !own.PublicKey.(*ecdsa.PublicKey).Equal(key.Public()) {
		t.Errorf("registered certificate CN %q", own.Subject.CommonName)
	}
	if _, err := backend.Identify(ctx, "dev", own); err != nil {
		t.Errorf("identify a registered key: %v", err)
	}
	tampered := bytes.Clone(csrDER)
	tampered[len(tampered)-3] ^= 0xff
	pubDER, _ := x509.MarshalPKIXPublicKey(key.Public())
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	weakDER, _ := x509.MarshalPKIXPublicKey(weak.Public())
	for name, text := range map[string]string{
		"tampered CSR":   string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tampered})),
		"1024-bit RSA":   string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: weakDER})),
		"a private key":  files["key.pem"],
		"not PEM at all": "hello",
	} {
		if code, out := ts.do(t, "POST", "/v1/bundles:register", dev, map[string]any{"pem": text}); code != 400 {
			t.Errorf("register %s: %d %v", name, code, out)
		}
	}
	if code, out := ts.do(t, "POST", "/v1/bundles:register", dev, map[string]any{"pem": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))}); code != 200 {
		t.Errorf("register a public key: %d %v", code, out)
	}

	// Listing, labelling, revoking; others' bundles are not found.
	serial := pki.CertSerial(cert)
	_, list := ts.do(t, "GET", "/v1/bundles", dev, nil)
	if n := len(list["bundles"].([]any)); n != 3 {
		t.Errorf("dev lists %d bundles, want 3", n)
	}
	if code, _ := ts.do(t, "PATCH", "/v1/bundles/"+serial, admin, map[string]any{"label": "old"}); code != 200 {
		t.Errorf("admin relabels: %d", code)
	}
	_, all := ts.do(t, "GET", "/v1/bundles?owner=*", admin, nil)
	if n := len(all["bundles"].([]any)); n != 3 {
		t.Errorf("admin lists %d bundles of every account, want 3", n)
	}
	ts.do(t, "POST", "/v1/users", admin, map[string]any{"name": "eve", "password": "eve-password-1"})
	eve := ts.login(t, "eve", "eve-password-1")
	if code, _ := ts.do(t, "DELETE", "/v1/bundles/"+serial, eve, nil); code != 404 {
		t.Errorf("another user revoking dev's bundle: %d, want 404", code)
	}
	if code, _ := ts.do(t, "DELETE", "/v1/bundles/"+serial, dev, nil); code != 200 {
		t.Errorf("revoke own bundle: %d", code)
	}
	if _, err := backend.Identify(ctx, "dev", cert); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("revoked certificate: %v", err)
	}
	_, audit := ts.do(t, "GET", "/v1/audit?object=bundle:"+serial, admin, nil)
	if events, _ := audit["events"].([]any); len(events) < 3 {
		t.Errorf("audit of the bundle: %v", audit)
	}
	// An inactive account's certificates are refused at once.
	ts.do(t, "PATCH", "/v1/users/dev", admin, map[string]any{"active": false})
	if _, err := backend.Identify(ctx, "dev", own); err == nil || !strings.Contains(err.Error(), "inactive") {
		t.Errorf("certificate of an inactive account: %v", err)
	}
}
