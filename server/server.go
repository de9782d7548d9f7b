package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/grantd/grantd/authn"
	"github.com/grantd/grantd/rights"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/grantd/grantd/adapters/registry"
	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/decisionlog"
	"github.com/grantd/grantd/internal/connmux"
	"github.com/grantd/grantd/ldapsync"
	"github.com/grantd/grantd/pki"
	v1 "github.com/grantd/grantd/proto/grantd/v1"
	"github.com/grantd/grantd/store"
)

// Config is the transport configuration of a Server.
type Config struct {
	// Listen is the address serving gRPC and REST.
	Listen string
	// Insecure serves plain HTTP (and h2c for gRPC) instead of TLS.
	Insecure bool
	// TLS is the serving certificate; ignored when Insecure.
	TLS pki.TLSFiles
	// MaxRequestBytes bounds REST request bodies and gRPC messages.
	MaxRequestBytes int64
	// ShutdownTimeout bounds the graceful drain on shutdown.
	ShutdownTimeout time.Duration
	// Registry configures the registry token service at /auth/token;
	// TokenAlgorithm is the algorithm of new signing keys (ES256, RS256).
	Registry       registry.Config
	TokenAlgorithm string
	// Bundles configures client bundles.
	Bundles BundleConfig
	// ReadTimeout bounds reading a REST request, body included
	// (DefaultReadTimeout when zero).
	ReadTimeout time.Duration
	// MaxStaleness is how long a cluster node cut off from the leader goes
	// on deciding from its last state (zero: for ever).
	MaxStaleness time.Duration
	// DecisionLog, when set, receives every decision; its owner closes it
	// after the server has stopped.
	DecisionLog *decisionlog.Logger
	// BundleSigner, when set, signs the policy bundle agents pull
	// (PolicyBundlePath).
	BundleSigner *authz.BundleSigner
}

// Server serves grantd's API.
type Server struct {
	cfg     Config
	log     *slog.Logger
	store   *store.Store
	engine  *authz.Engine
	metrics *metrics
	grpc    *grpc.Server
	handler http.Handler
	// rest is the REST gateway behind handler (authorizeREST answers
	// its commonest route itself).
	rest http.Handler
	// tokens is the registry token service.
	tokens *registry.Service
	// bundles serves the policy bundle to OPA agents.
	bundles bundleServer
	now     func() time.Time
	// deps are shared by the services and the interceptor.
	deps *deps
}

// headerTimeout bounds a new connection's TLS handshake and first request;
// idleTimeout closes connections that carry no request for that long.
const (
	headerTimeout = 10 * time.Second
	idleTimeout   = 2 * time.Minute
)

// streamWorkersPerCore is how many goroutines per core serve gRPC calls
// and stay for the next one. Without them grpc-go starts a goroutine per
// call, whose stack grows (and is copied) on every call: 12-13 % of
// grantd's CPU at 64 callers with the decision cache on. Calls beyond the
// workers still get a goroutine of their own, as before.
const streamWorkersPerCore = 64

// StreamWorkers is how many stream workers grantd's gRPC server keeps
// (the benchmark's transport floor runs with as many).
func StreamWorkers() uint32 { return uint32(streamWorkersPerCore * goruntime.GOMAXPROCS(0)) }

// DefaultReadTimeout bounds reading one whole HTTP request, body included:
// a client that trickles a body cannot hold a connection for minutes.
const DefaultReadTimeout = 30 * time.Second

// DefaultTokenIssuer is the iss claim of registry tokens unless configured.
const DefaultTokenIssuer = "grantd"

// New builds a server on an open store and the engine that follows it.
func New(cfg Config, st *store.Store, engine *authz.Engine, log *slog.Logger) (*Server, error) {
	s := &Server{cfg: cfg, log: log, store: st, engine: engine, metrics: newMetrics(), now: time.Now}
	s.metrics.reg.MustRegister(engine.Collectors()...)
	s.deps = &deps{store: st, log: log, metrics: s.metrics, now: func() time.Time { return s.now() }, engine: engine,
		principals: authn.NewPrincipals(), sessions: newSessionTracker(), logins: authn.NewThrottle(func() time.Time { return s.now() }),
		clientCA: pki.NewClientCA(st), fresh: freshness{store: st, max: cfg.MaxStaleness},
		decisions: decisions{engine: engine, log: cfg.DecisionLog}}
	s.metrics.reg.MustRegister(cfg.DecisionLog.Collectors()...)
	s.deps.writer = &writer{store: st, log: log, metrics: s.metrics, now: s.deps.now}
	if st.Clustered() {
		shareLoginThrottle(st, s.deps.logins)
	}
	s.deps.asker = &asker{state: st, engine: engine}
	s.deps.syncer = ldapsync.NewSyncer(st, log, s.deps.now, s.metrics.observeSync)
	s.deps.passwords = &authn.Passwords{Store: st, Throttle: s.deps.logins, Apply: s.deps.applyAs, Now: s.deps.now, Log: log,
		Observe: func(result string) { s.metrics.logins.WithLabelValues(result).Inc() }}
	if cfg.Registry.Issuer == "" {
		cfg.Registry.Issuer = DefaultTokenIssuer
	}
	if cfg.Bundles.Validity <= 0 {
		cfg.Bundles.Validity = DefaultBundleValidity
	}
	if len(cfg.Bundles.DockerHosts) == 0 {
		cfg.Bundles.DockerHosts = []string{"tcp://localhost:2376"}
	}
	if err := ValidDockerHosts(cfg.Bundles.DockerHosts); err != nil {
		return nil, err
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.TokenAlgorithm == "" {
		cfg.TokenAlgorithm = pki.AlgorithmES256
	}
	s.cfg = cfg
	s.tokens = registry.New(cfg.Registry, registryBackend{s.deps}, registryKeys(pki.NewTokenKeys(st)), log)
	s.grpc = grpc.NewServer(
		grpc.NumStreamWorkers(StreamWorkers()),
		grpc.UnaryInterceptor(s.intercept),
		grpc.InTapHandle(tapCallFacts),
		grpc.MaxRecvMsgSize(int(cfg.MaxRequestBytes)),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: idleTimeout}),
	)
	inproc := newInprocConn(s.intercept)
	s.registerServices(registrar{s.grpc, inproc})
	jsonpb := gatewayJSON()
	gw, err := s.gateway(inproc, jsonpb)
	if err != nil {
		return nil, err
	}
	s.rest = gw
	s.handler = s.routes(gw, authorizeREST(gw, jsonpb, inproc))
	return s, nil
}

// deps are the server's shared parts, from which each service and
// backend takes the few it uses (registerServices).
type deps struct {
	*writer
	*asker
	store   *store.Store
	log     *slog.Logger
	metrics *metrics
	now     func() time.Time
	// engine answers repository-right checks of the admin API.
	engine *authz.Engine
	// principals remembers what bearer tokens resolved to, until a write
	// to the credentials.
	principals *authn.Principals
	// sessions throttles session renewal writes; logins throttles failures.
	sessions *sessionTracker
	logins   *authn.Throttle
	// passwords checks logins (the API's and the registry's).
	passwords *authn.Passwords
	// syncer runs LDAP syncs, one at a time.
	syncer *ldapsync.Syncer
	// clientCA issues and checks client bundle certificates.
	clientCA *pki.ClientCA
	// maxRevisionWait, when set, replaces the default bound of a call's
	// minRevision wait (tests shorten it).
	maxRevisionWait time.Duration
	// fresh denies decisions on a node cut off from the leader too long.
	fresh freshness
	// decisions asks the engine and records in the decision log.
	decisions decisions
}

func (s *Server) registerServices(r grpc.ServiceRegistrar) {
	d := s.deps
	v1.RegisterAuthServiceServer(r, d.authService())
	v1.RegisterUserServiceServer(r, &userService{writer: d.writer})
	v1.RegisterOrgServiceServer(r, &orgService{writer: d.writer, asker: d.asker})
	v1.RegisterServiceAccountServiceServer(r, &serviceAccountService{writer: d.writer})
	v1.RegisterTokenServiceServer(r, &tokenService{writer: d.writer})
	v1.RegisterCollectionServiceServer(r, &collectionService{writer: d.writer})
	v1.RegisterRoleServiceServer(r, &roleService{writer: d.writer})
	v1.RegisterGrantServiceServer(r, &grantService{writer: d.writer, asker: d.asker})
	v1.RegisterRepositoryServiceServer(r, &repositoryService{writer: d.writer, asker: d.asker})
	v1.RegisterSettingsServiceServer(r, &settingsService{writer: d.writer})
	v1.RegisterAuthzServiceServer(r, d.authzService())
	v1.RegisterPolicyServiceServer(r, &policyService{engine: s.engine})
	v1.RegisterAuditServiceServer(r, &auditService{store: d.store})
	v1.RegisterLDAPServiceServer(r, &ldapService{writer: d.writer, asker: d.asker, syncer: d.syncer})
	v1.RegisterRegistryServiceServer(r, &registryService{writer: d.writer, issuer: s.cfg.Registry.Issuer, algorithm: s.cfg.TokenAlgorithm})
	v1.RegisterBundleServiceServer(r, &bundleService{writer: d.writer, ca: d.clientCA, cfg: s.cfg.Bundles})
	v1.RegisterClusterServiceServer(r, &clusterService{store: d.store, writer: d.writer, log: d.log, now: d.now})
}

// gatewayJSON is the REST gateway's JSON marshaler.
func gatewayJSON() *runtime.JSONPb {
	return &runtime.JSONPb{
		// Emit false, 0 and empty lists: clients read "allowed": false.
		MarshalOptions:   protojson.MarshalOptions{EmitDefaultValues: true},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
	}
}

// gateway builds the REST gateway over the in-process connection, with
// jsonpb for every media type.
func (s *Server) gateway(conn grpc.ClientConnInterface, jsonpb *runtime.JSONPb) (*runtime.ServeMux, error) {
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, jsonpb),
		runtime.WithErrorHandler(writeError),
		runtime.WithRoutingErrorHandler(routingError),
		// No HTTP header becomes gRPC metadata but Authorization, which
		// the gateway always passes on: the handlers read the caller's
		// address and X-Request-ID from the HTTP request itself
		// (httpcall.go), and copying every header into metadata cost
		// each REST call a kilobyte of garbage.
		runtime.WithIncomingHeaderMatcher(func(string) (string, bool) { return "", false }),
	)
	ctx := context.Background()
	for _, register := range []func(context.Context, *runtime.ServeMux, grpc.ClientConnInterface) error{
		func(c context.Context, m *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return v1.RegisterAuthzServiceHandlerClient(c, m, v1.NewAuthzServiceClient(cc))
		},
		func(c context.Context, m *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return v1.RegisterAuthServiceHandlerClient(c, m, v1.NewAuthServiceClient(cc))
		},
		func(c context.Context, m *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return v1.RegisterUserServiceHandlerClient(c, m, v1.NewUserServiceClient(cc))
		},
		func(c context.Context, m *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return v1.RegisterOrgServiceHandlerClient(c, m, v1.NewOrgServiceClient(cc))
		},
		func(c context.Context, m *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return v1.RegisterServiceAccountServiceHandlerClient(c, m, v1.NewServiceAccountServiceClient(cc))
		},
		func(c context.Context, m *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return v1.RegisterTokenServiceHandlerClient(c, m, v1.NewTokenServiceClient(cc))
		},
		func(c context.Context, m *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return v1.RegisterCollectionServiceHandlerClient(c, m, v1.NewCollectionServiceClient(cc))
		},
		func(c context.Context, m *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return v1.RegisterRoleServiceHandlerClient(c, m, v1.NewRoleServiceClient(cc))
		},
		func(c context.Context, m *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return v1.RegisterGrantServiceHandlerClient(c, m, v1.NewGrantServiceClient(cc))
		},
		func(c context.Context, m *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return v1.RegisterRepositoryServiceHandlerClient(c, m, v1.NewRepositoryServiceClient(cc))
		},
		func(c context.Context, m *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return v1.RegisterSettingsServiceHandlerClient(c, m, v1.NewSettingsServiceClient(cc))
		},
		func(c context.Context, m *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return v1.RegisterAuditServiceHandlerClient(c, m, v1.NewAuditServiceClient(cc))
		},
		func(c context.Context, m *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return v1.RegisterPolicyServiceHandlerClient(c, m, v1.NewPolicyServiceClient(cc))
		},
		func(c context.Context, m *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return v1.RegisterLDAPServiceHandlerClient(c, m, v1.NewLDAPServiceClient(cc))
		},
		func(c context.Context, m *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return v1.RegisterBundleServiceHandlerClient(c, m, v1.NewBundleServiceClient(cc))
		},
		func(c context.Context, m *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return v1.RegisterRegistryServiceHandlerClient(c, m, v1.NewRegistryServiceClient(cc))
		},
		func(c context.Context, m *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return v1.RegisterClusterServiceHandlerClient(c, m, v1.NewClusterServiceClient(cc))
		},
	} {
		if err := register(ctx, mux, conn); err != nil {
			return nil, fmt.Errorf("register gateway: %w", err)
		}
	}
	return mux, nil
}

// routes is the HTTP surface: the operational endpoints, the registry
// token service and the REST gateway for everything else (gRPC reaches
// its own server through the connection mux).
func (s *Server) routes(gw, authorize http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.requireAuth(promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})))
	mux.Handle("GET /openapi.json", s.requireAuth(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(v1.OpenAPI)
	})))
	// The registry token service (public: it authenticates itself).
	mux.Handle("GET /v1/backup", s.requireAdmin(http.HandlerFunc(s.backup)))
	mux.Handle("GET "+PolicyBundlePath, s.requireAuth(http.HandlerFunc(s.policyBundle)))
	mux.Handle("GET /auth/token", withClientAddr(s.tokens))
	mux.Handle("POST /auth/token", s.limitBody(withClientAddr(s.tokens)))
	s.kubernetesRoutes(mux)
	s.consoleRoutes(mux)
	s.authzenRoutes(mux)
	s.manifestRoutes(mux)
	mux.Handle("POST /v1/authorize", s.limitBody(authorize))
	mux.Handle("/", s.limitBody(gw))
	withCookie := s.withConsoleCookie(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		withCookie.ServeHTTP(w, withHTTPCall(r))
	})
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if !s.engine.Healthy() {
		http.Error(w, "compiled policy state out of date\n", http.StatusServiceUnavailable)
		return
	}
	if !s.store.Clustered() {
		if !s.store.Ready() {
			http.Error(w, "store not ready\n", http.StatusServiceUnavailable)
			return
		}
		_, _ = fmt.Fprintf(w, "ok\nnode: %s\nleader: %s\n", s.store.NodeID(), s.store.Leader())
		return
	}
	// A cluster node serves decisions while its state is fresh enough;
	// writes need a leader. A load balancer reads the status (decisions);
	// the body says the rest.
	if d := s.deps.fresh.denial(); d != nil {
		http.Error(w, "stale: "+d.Reason+"\n", http.StatusServiceUnavailable)
		return
	}
	writes := "ok"
	if s.store.Leader() == "" {
		writes = "refused (no leader)"
	}
	_, _ = fmt.Fprintf(w, "ok\nnode: %s\nleader: %s\ndecisions: ok\nwrites: %s\n", s.store.NodeID(), s.store.Leader(), writes)
}

// requireAuth guards plain HTTP endpoints with the same credentials as the API.
func (s *Server) requireAuth(next http.Handler) http.Handler {
	return s.requireBearer(nil, next)
}

// requireAdmin guards plain HTTP endpoints for system admins only.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return s.requireBearer(rights.RequireSystemAdmin, next)
}

// requireBearer admits requests with a valid bearer credential whose
// principal passes may (when given), with the principal in the context.
func (s *Server) requireBearer(may func(*Principal) error, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			http.Error(w, "authentication required\n", http.StatusUnauthorized)
			return
		}
		p, err := s.deps.principals.Bearer(s.store, strings.TrimSpace(token), s.now())
		if err != nil {
			http.Error(w, "authentication required\n", http.StatusUnauthorized)
			return
		}
		if may != nil {
			if err := may(p); err != nil {
				http.Error(w, err.Error()+"\n", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), p)))
	})
}

// backup streams the whole state, as of one revision, in the snapshot
// format `grantd restore` reads. It holds every secret grantd keeps
// (password hashes, the CA keys): store it like them.
func (s *Server) backup(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="grantd-backup.jsonl"`)
	w.Header().Set("X-Grantd-Revision", fmt.Sprint(s.store.Revision()))
	s.log.InfoContext(r.Context(), "backup", "actor", principalFrom(r.Context()).Subject().String(), "revision", s.store.Revision())
	if err := s.store.WriteSnapshot(w); err != nil {
		s.log.WarnContext(r.Context(), "backup failed", "err", err)
	}
}

// limitBody refuses request bodies over the configured size.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.cfg.MaxRequestBytes {
			writeHTTPError(w, http.StatusRequestEntityTooLarge, 3, fmt.Sprintf("request body larger than %d bytes", s.cfg.MaxRequestBytes))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxRequestBytes)
		next.ServeHTTP(w, r)
	})
}

// Serve serves gRPC and REST on ln until ctx is done, then drains both
// gracefully. The connections are split by their first request
// (internal/connmux) so that gRPC is served by grpc-go's own transport.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var tc *tls.Config
	if !s.cfg.Insecure {
		var err error
		if tc, err = pki.ServerTLSConfig(s.cfg.TLS); err != nil {
			return err
		}
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: headerTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		// HTTP/2 reaches this server already decrypted by the mux.
		Protocols: new(http.Protocols),
	}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	mux := connmux.New(ln, tc, headerTimeout)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.scheduleSyncs(ctx)
	go func() { _ = mux.Serve(); cancel() }()
	go func() { _ = s.grpc.Serve(mux.GRPC()) }()
	grpcDrained := make(chan struct{})
	go func() {
		<-ctx.Done()
		s.drainGRPC()
		close(grpcDrained)
	}()
	// Until both servers have closed their side, new connections are
	// accepted and closed by the mux.
	err := s.serveUntil(ctx, srv, mux.HTTP())
	cancel()
	<-grpcDrained
	_ = mux.Close()
	return err
}

// drainGRPC lets running calls finish within the shutdown timeout, then
// stops the gRPC server.
func (s *Server) drainGRPC() {
	done := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(s.cfg.ShutdownTimeout):
		s.grpc.Stop()
		<-done
	}
}

// serveUntil serves srv on ln until ctx is done, then drains it within
// the shutdown timeout.
func (s *Server) serveUntil(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	return err
}
