package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/grantd/grantd/store"
)

// The cluster's own CA signs node certificates; nodes prove membership to
// each other with them (mutual TLS on the cluster port). It is separate
// from the server CA (what API clients trust) and the client CA (bundles):
// a bundle certificate can never pass for a node.

// ClusterFiles are the files of a node's cluster identity.
type ClusterFiles struct {
	CA, Cert, Key string
}

// ClusterFilesIn are the files IssueNodeCert writes for node into dir.
func ClusterFilesIn(dir, node string) ClusterFiles {
	ca, _ := clusterCAFiles(dir)
	return ClusterFiles{CA: ca, Cert: filepath.Join(dir, node+".pem"),
		Key: filepath.Join(dir, node+"-key.pem")}
}

// IssueNodeCerts creates the cluster CA in dir when it is not there yet
// and a certificate for each node (valid for five years) signed by it.
// The CA key stays in dir: keep it offline, it admits nodes.
func IssueNodeCerts(dir string, nodes []string, now time.Time) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ca, caKey, err := loadOrCreateClusterCA(dir, now)
	if err != nil {
		return fmt.Errorf("cluster CA: %w", err)
	}
	for _, node := range nodes {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		der, err := x509.CreateCertificate(rand.Reader, nodeCertTemplate(node, now), ca, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		f := ClusterFilesIn(dir, node)
		if err := writePair(f.Cert, f.Key, der, key); err != nil {
			return err
		}
	}
	return nil
}

// nodeCertTemplate is a node certificate: five years, the node's ID as
// its common name, the cluster's server name, for both ends of mutual TLS.
func nodeCertTemplate(node string, now time.Time) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: node, Organization: []string{"grantd cluster"}},
		DNSNames:     []string{store.ClusterServerName},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(5, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
}

// clusterCAFiles are the cluster CA's certificate and key in dir.
func clusterCAFiles(dir string) (cert, key string) {
	return filepath.Join(dir, "cluster-ca.pem"), filepath.Join(dir, "cluster-ca-key.pem")
}

func loadOrCreateClusterCA(dir string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cert, key := clusterCAFiles(dir)
	return loadOrCreateCAFiles(cert, key, "grantd cluster CA", now)
}

// ClusterTLSConfig is a node's mutual-TLS configuration for the cluster
// port: its certificate, and only the cluster CA trusted, both ways.
func ClusterTLSConfig(f ClusterFiles) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("node certificate: %w", err)
	}
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("cluster CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%s: no certificate", f.CA)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, ClientCAs: pool,
		MinVersion: tls.VersionTLS13}, nil
}
