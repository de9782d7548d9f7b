package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// saved is what login keeps between invocations.
type saved struct {
	Server string `json:"server"`
	CACert string `json:"caCert,omitempty"`
	Token  string `json:"token,omitempty"`
}

const defaultServer = "localhost:8443"

func (g *globals) configPath() (string, error) {
	if g.config != "" {
		return g.config, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config directory: %w", err)
	}
	return filepath.Join(dir, "grantd", "grantctl.json"), nil
}

func (g *globals) load() (saved, error) {
	var s saved
	path, err := g.configPath()
	if err != nil {
		return s, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// store writes the config with 0600 permissions: it holds a bearer token.
func (g *globals) store(s saved) error {
	path, err := g.configPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// target merges flags over the saved config.
func (g *globals) target() (saved, error) {
	s, err := g.load()
	if err != nil {
		return s, err
	}
	if g.server != "" && g.server != s.Server {
		s.Server, s.Token = g.server, ""
	}
	if s.Server == "" {
		s.Server = defaultServer
	}
	if g.caCert != "" {
		abs, err := filepath.Abs(g.caCert)
		if err != nil {
			return s, err
		}
		s.CACert = abs
	}
	return s, nil
}

// dial opens a TLS gRPC connection to the target server.
func dial(s saved) (*grpc.ClientConn, error) {
	cfg, err := tlsConfig(s)
	if err != nil {
		return nil, err
	}
	creds := grpc.WithTransportCredentials(credentials.NewTLS(cfg))
	addrs := serverList(s.Server)
	if len(addrs) == 1 {
		return grpc.NewClient(addrs[0], creds)
	}
	// Several nodes of a cluster: gRPC's pick_first connects to the first
	// that answers and moves to the next when it goes away.
	r := manual.NewBuilderWithScheme("grantd")
	var state resolver.State
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return nil, fmt.Errorf("--server: %q is not host:port", a)
		}
		state.Addresses = append(state.Addresses, resolver.Address{Addr: a, ServerName: host})
	}
	r.InitialState(state)
	return grpc.NewClient(r.Scheme()+":///cluster", creds, grpc.WithResolvers(r))
}

// serverList splits --server: one address, or a cluster's nodes separated
// by commas.
func serverList(server string) []string {
	var out []string
	for _, a := range strings.Split(server, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// tlsConfig trusts the saved CA certificate (else the system roots).
func tlsConfig(s saved) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.CACert != "" {
		pem, err := os.ReadFile(s.CACert)
		if err != nil {
			return nil, fmt.Errorf("CA certificate: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in %s", s.CACert)
		}
	}
	return cfg, nil
}

// authed returns a context carrying the saved token.
func authed(ctx context.Context, s saved) (context.Context, error) {
	if s.Token == "" {
		return nil, errors.New("not logged in to " + s.Server + "; run grantctl login")
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+s.Token), nil
}

// connect opens an authenticated connection for commands that need a login.
func (g *globals) connect(ctx context.Context) (*grpc.ClientConn, context.Context, error) {
	s, err := g.target()
	if err != nil {
		return nil, nil, err
	}
	actx, err := authed(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	conn, err := dial(s)
	if err != nil {
		return nil, nil, err
	}
	return conn, actx, nil
}
