package server

import (
	"archive/zip"
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"time"
)

// BundleConfig is what goes into client bundles besides the certificate.
type BundleConfig struct {
	// DockerHost is DOCKER_HOST in env.sh and env.ps1, e.g.
	// tcp://manager.example.com:2376.
	DockerHost string
	// DockerCAPEM is ca.pem: the CA that signed the daemons' server
	// certificates. Empty means the client CA itself.
	DockerCAPEM string
	// Validity is both the default and the longest validity of a
	// certificate.
	Validity time.Duration
}

// DefaultBundleValidity is how long bundle certificates last unless
// configured or asked for less.
const DefaultBundleValidity = 365 * 24 * time.Hour

// ValidDockerHost keeps DOCKER_HOST to characters that need no quoting in
// either shell.
func ValidDockerHost(h string) error {
	if !strings.HasPrefix(h, "tcp://") && !strings.HasPrefix(h, "unix://") && !strings.HasPrefix(h, "ssh://") {
		return fmt.Errorf("docker host %q: want tcp://, unix:// or ssh://", h)
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(":/.-_@[]", r)) {
			return fmt.Errorf("docker host %q: character %q not allowed", h, r)
		}
	}
	return nil
}

// bundleZip is the client bundle: key.pem, cert.pem, ca.pem, env.sh and
// env.ps1. The env scripts point the Docker CLI at the bundle's own
// directory, so they work wherever the zip is unpacked.
func bundleZip(cfg BundleConfig, key crypto.Signer, cert *x509.Certificate, caPEM string) ([]byte, error) {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if cfg.DockerCAPEM != "" {
		caPEM = cfg.DockerCAPEM
	}
	files := []struct {
		name string
		mode os.FileMode
		body string
	}{
		{"key.pem", 0o600, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))},
		{"cert.pem", 0o644, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))},
		{"ca.pem", 0o644, caPEM},
		{"env.sh", 0o644, "# Docker client bundle of " + cert.Subject.CommonName + " issued by grantd.\n" +
			"# Run from the directory this file is in:  eval \"$(<env.sh)\"\n" +
			"export DOCKER_HOST='" + cfg.DockerHost + "'\n" +
			"export DOCKER_TLS_VERIFY=1\n" +
			"export DOCKER_CERT_PATH=\"$(pwd)\"\n"},
		{"env.ps1", 0o644, "# Docker client bundle of " + cert.Subject.CommonName + " issued by grantd.\r\n" +
			"# Run from anywhere:  . .\\env.ps1\r\n" +
			"$env:DOCKER_HOST = '" + cfg.DockerHost + "'\r\n" +
			"$env:DOCKER_TLS_VERIFY = '1'\r\n" +
			"$env:DOCKER_CERT_PATH = $PSScriptRoot\r\n"},
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: cert.NotBefore}
		h.SetMode(f.mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write([]byte(f.body)); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
