package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TLS material grantd creates in <data-dir>/tls on first start.
const (
	tlsDirName     = "tls"
	caCertFile     = "ca.crt"
	caKeyFile      = "ca.key"
	serverCertFile = "server.crt"
	serverKeyFile  = "server.key"
	// serverCertRenewBefore is how long before expiry a generated server
	// certificate is replaced at start-up.
	serverCertRenewBefore = 30 * 24 * time.Hour
)

// TLSFiles are the paths of the serving certificate and key, and of the CA
// clients should trust (empty when the operator brings their own).
type TLSFiles struct {
	Cert, Key, CA string
}

// EnsureTLS returns the operator's certificate when both cert and key are
// given; otherwise it creates (once) a CA and a server certificate signed by
// it under dataDir/tls, valid for localhost, the loopback addresses, the
// host name and the extra names in sans.
func EnsureTLS(dataDir, cert, key string, sans []string) (TLSFiles, error) {
	if cert != "" || key != "" {
		if cert == "" || key == "" {
			return TLSFiles{}, errors.New("--tls-cert and --tls-key go together")
		}
		return TLSFiles{Cert: cert, Key: key}, nil
	}
	dir := filepath.Join(dataDir, tlsDirName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return TLSFiles{}, err
	}
	files := TLSFiles{Cert: filepath.Join(dir, serverCertFile), Key: filepath.Join(dir, serverKeyFile), CA: filepath.Join(dir, caCertFile)}
	ca, caKey, err := loadOrCreateCA(dir)
	if err != nil {
		return TLSFiles{}, fmt.Errorf("server CA: %w", err)
	}
	if fresh(files.Cert, sans) {
		return files, nil
	}
	if err := createServerCert(files, ca, caKey, sans); err != nil {
		return TLSFiles{}, fmt.Errorf("server certificate: %w", err)
	}
	return files, nil
}

func loadOrCreateCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	return loadOrCreateCAFiles(filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile), "grantd server CA", time.Now())
}

// loadOrCreateCAFiles reads a CA pair, or creates one (ten years) there.
func loadOrCreateCAFiles(certPath, keyPath, name string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	if certPEM, err := os.ReadFile(certPath); err == nil { //nolint:gosec // grantd's own data directory, or the operator's
		keyPEM, err := os.ReadFile(keyPath) //nolint:gosec // beside it
		if err != nil {
			return nil, nil, err
		}
		return parsePair(certPEM, keyPEM)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"grantd"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	if err := writePair(certPath, keyPath, der, key); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func createServerCert(files TLSFiles, ca *x509.Certificate, caKey *ecdsa.PrivateKey, sans []string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "grantd", Organization: []string{"grantd"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range serverNames(sans) {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	return writePair(files.Cert, files.Key, der, key)
}

func serverNames(extra []string) []string {
	names := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil && h != "" {
		names = append(names, h)
	}
	return append(names, extra...)
}

// fresh reports whether the certificate at path exists, is not close to
// expiry and covers every name asked for.
func fresh(path string, sans []string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return false
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil || time.Until(c.NotAfter) < serverCertRenewBefore {
		return false
	}
	for _, n := range serverNames(sans) {
		if c.VerifyHostname(n) != nil {
			return false
		}
	}
	return true
}

func writePair(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func parsePair(certPEM, keyPEM []byte) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, errors.New("malformed PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	return cert, key, err
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return n
}

// ServerTLSConfig builds the serving TLS configuration (TLS 1.2+, AEAD
// suites only, h2 first).
func ServerTLSConfig(files TLSFiles) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(files.Cert, files.Key)
	if err != nil {
		return nil, fmt.Errorf("load TLS key pair: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{pair},
		MinVersion:   tls.VersionTLS12,
		CipherSuites: aeadSuites,
		NextProtos:   []string{"h2", "http/1.1"},
	}, nil
}

// aeadSuites are the TLS 1.2 cipher suites grantd offers: forward-secret
// key exchange with authenticated encryption only (no CBC, no SHA-1 MACs,
// no static RSA). TLS 1.3 suites are all AEAD and not configurable.
var aeadSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// ClientTLSConfig is a TLS client configuration trusting caFile (the
// system roots when empty) and presenting certFile/keyFile when given.
func ClientTLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pemBytes, err := os.ReadFile(caFile) //nolint:gosec // an operator-given path
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("%s: no certificate", caFile)
		}
		tc.RootCAs = pool
	}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}
