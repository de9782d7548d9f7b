package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/grantd/grantd/authn"
	"github.com/grantd/grantd/rights"

	"github.com/grantd/grantd/adapters/engine"
	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/pki"
)

// EngineConfig configures the Docker engine authorization plugin.
type EngineConfig struct {
	// API is the engine API the resolver looks objects up through
	// (unix:///var/run/docker.sock, tcp://host:2376); TLS, when not nil,
	// is the client configuration for a tcp:// API.
	API string
	TLS *tls.Config
	// CacheTTL is how long an object lookup is reused.
	CacheTTL time.Duration
	// AllowLocalSocket lets requests without a client certificate through.
	AllowLocalSocket bool
}

// dockerBackend answers the plugin's questions from the state and the
// decision engine.
type dockerBackend struct {
	*deps
}

var _ engine.Backend = dockerBackend{}

// Identify accepts a certificate grantd's client CA issued and recorded,
// unrevoked and within its validity, of an active account named by the CN.
func (b dockerBackend) Identify(_ context.Context, user string, cert *x509.Certificate) (engine.Identity, error) {
	p, err := b.identifyCert(user, cert)
	if err != nil {
		return engine.Identity{}, err
	}
	// The plugin's and the proxy's admin-only routes follow rights.
	return engine.Identity{Subject: p.Subject(), IsAdmin: rights.RequireSystemAdmin(p) == nil}, nil
}

// identifyCert is the account of a client certificate (see Identify).
func (d *deps) identifyCert(user string, cert *x509.Certificate) (*Principal, error) {
	return authn.Certificate(d.store.Read(), d.clientCA, user, cert, d.now())
}

// Decide asks the decision engine.
func (b dockerBackend) Decide(ctx context.Context, r authz.Request) authz.Decision {
	return b.decide(ctx, r, viaPlugin)
}

// EnginePlugin is the engine authorization plugin's HTTP handler, for the
// unix socket. The resolver's secret is new on every start.
func (s *Server) EnginePlugin(cfg EngineConfig) (http.Handler, error) {
	secret, err := authn.NewSecret("grantd-lookup-")
	if err != nil {
		return nil, err
	}
	var resolver *engine.Resolver
	if strings.HasPrefix(cfg.API, "tcp://") && cfg.TLS == nil {
		s.log.Warn("the engine API is plain TCP: object lookups and the plugin's lookup secret cross the network in clear text; give --engine-api-ca/-cert/-key")
	}
	if cfg.API != "" {
		if resolver, err = engine.NewResolver([]string{cfg.API}, cfg.TLS, secret, cfg.CacheTTL); err != nil {
			return nil, err
		}
	}
	return engine.New(engine.Config{AllowLocalSocket: cfg.AllowLocalSocket, Observe: s.metrics.observeEngine},
		dockerBackend{s.deps}, resolver, s.log), nil
}

// ServeEnginePlugin serves the plugin on ln (a unix socket) until ctx is done.
func (s *Server) ServeEnginePlugin(ctx context.Context, ln net.Listener, h http.Handler) error {
	return s.serveUntil(ctx, pluginServer(h), ln)
}

// ServeEnginePluginTLS serves the plugin over TLS TCP. The daemon must
// present a client certificate of grantd's client CA belonging to an
// active service account with the "authorize" capability, since anyone
// reaching the port could otherwise ask about any certificate.
func (s *Server) ServeEnginePluginTLS(ctx context.Context, ln net.Listener, h http.Handler) error {
	tc, err := pki.ServerTLSConfig(s.cfg.TLS)
	if err != nil {
		return err
	}
	tc = tc.Clone()
	tc.NextProtos = []string{"http/1.1"}
	tc.ClientAuth = tls.RequireAnyClientCert
	guarded := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "client certificate required", http.StatusUnauthorized)
			return
		}
		c := r.TLS.PeerCertificates[0]
		p, err := s.deps.identifyCert(c.Subject.CommonName, c)
		if err == nil {
			err = rights.DecisionService(p)
		}
		if err != nil {
			s.log.Warn("engine plugin caller refused", "cn", c.Subject.CommonName, "err", err)
			http.Error(w, "the daemon's certificate must belong to a service account with the authorize capability", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
	return s.serveUntil(ctx, pluginServer(guarded), tls.NewListener(ln, tc))
}

func pluginServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: headerTimeout, ReadTimeout: DefaultReadTimeout, IdleTimeout: idleTimeout}
}
