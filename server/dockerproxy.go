package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/http"

	"github.com/grantd/grantd/authn"

	"github.com/grantd/grantd/adapters/engine"
	"github.com/grantd/grantd/pki"
)

// EngineProxyConfig configures the engine API proxy.
type EngineProxyConfig struct {
	EngineConfig
	// Engines are the endpoints the proxy forwards to, tried in order
	// (default: API).
	Engines []string
}

// EngineProxy is the engine API proxy's handler: the endpoint client
// bundles point at. It shares the plugin's decision path and resolver.
func (s *Server) EngineProxy(cfg EngineProxyConfig) (http.Handler, error) {
	if len(cfg.Engines) == 0 {
		cfg.Engines = []string{cfg.API}
	}
	secret, err := authn.NewSecret("grantd-lookup-")
	if err != nil {
		return nil, err
	}
	resolver, err := engine.NewResolver(cfg.Engines, cfg.TLS, secret, cfg.CacheTTL)
	if err != nil {
		return nil, err
	}
	return engine.NewProxy(engine.ProxyConfig{Engines: cfg.Engines, TLS: cfg.TLS, Observe: s.metrics.observeEngine},
		dockerBackend{s.deps}, resolver, s.log)
}

// ServeEngineProxy serves the proxy over TLS on ln until ctx is done.
// Callers must present a client certificate of grantd's client CA (the
// handler then checks it is one grantd issued, unrevoked, of an active
// account). There is no read timeout: attach, exec, builds and event
// streams run as long as the caller keeps them.
func (s *Server) ServeEngineProxy(ctx context.Context, ln net.Listener, h http.Handler) error {
	tc, err := pki.ServerTLSConfig(s.cfg.TLS)
	if err != nil {
		return err
	}
	caPEM, err := pki.ClientCAPEM(s.store)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(caPEM)) {
		return errors.New("engine proxy: no client CA certificate")
	}
	tc = tc.Clone()
	tc.NextProtos = []string{"http/1.1"} // attach and exec hijack HTTP/1.1 connections
	tc.ClientAuth = tls.RequireAndVerifyClientCert
	tc.ClientCAs = pool
	srv := &http.Server{Handler: h, ReadHeaderTimeout: headerTimeout, IdleTimeout: idleTimeout,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	return s.serveUntil(ctx, srv, tls.NewListener(ln, tc))
}
