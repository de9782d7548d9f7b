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
	// DockerHosts are the engine endpoints, e.g.
	// tcp://manager1.example.com:2376. With one, it is DOCKER_HOST in
	// env.sh and env.ps1; with several (tcp:// only), env.sh picks the
	// first that answers a ping, env.ps1 takes the first.
	DockerHosts []string
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

// ValidDockerHosts checks each host, and that a list of several is of
// tcp:// endpoints, which env.sh can ping.
func ValidDockerHosts(hosts []string) error {
	for _, h := range hosts {
		if err := ValidDockerHost(h); err != nil {
			return err
		}
		if len(hosts) > 1 && !strings.HasPrefix(h, "tcp://") {
			return fmt.Errorf("docker host %q: a list of several takes tcp:// endpoints only", h)
		}
	}
	return nil
}

// envSH is env.sh: the CLI's TLS settings and DOCKER_HOST. With several
// endpoints it pings each in turn with the bundle's own certificate (curl,
// three seconds each) and keeps the first that answers; without curl, or
// when none answers, the first.
func envSH(cn string, hosts []string) string {
	var b strings.Builder
	b.WriteString("# Docker client bundle of " + cn + " issued by grantd.\n" +
		"# Run from the directory this file is in:  eval \"$(<env.sh)\"\n" +
		"export DOCKER_TLS_VERIFY=1\n" +
		"export DOCKER_CERT_PATH=\"$(pwd)\"\n" +
		"export DOCKER_HOST='" + hosts[0] + "'\n")
	if len(hosts) > 1 {
		b.WriteString("# Several engine endpoints: the first that answers becomes DOCKER_HOST.\n" +
			"if command -v curl >/dev/null 2>&1; then\n" +
			"  for h in")
		for _, h := range hosts {
			b.WriteString(" '" + h + "'")
		}
		b.WriteString("; do\n" +
			"    if curl -fsS --max-time 3 --cacert ca.pem --cert cert.pem --key key.pem \"https://${h#tcp://}/_ping\" >/dev/null 2>&1; then\n" +
			"      export DOCKER_HOST=\"$h\"\n" +
			"      break\n" +
			"    fi\n" +
			"  done\n" +
			"  unset h\n" +
			"fi\n")
	}
	return b.String()
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
		{"env.sh", 0o644, envSH(cert.Subject.CommonName, cfg.DockerHosts)},
		{"env.ps1", 0o644, "# Docker client bundle of " + cert.Subject.CommonName + " issued by grantd.\r\n" +
			"# Run from anywhere:  . .\\env.ps1\r\n" +
			"# The engine endpoints: " + strings.Join(cfg.DockerHosts, " ") + " (this file takes the first)\r\n" +
			"$env:DOCKER_HOST = '" + cfg.DockerHosts[0] + "'\r\n" +
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
