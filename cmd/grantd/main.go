// Command grantd is the grantd server: it serves the gRPC API and its REST
// gateway on one port, over TLS unless told otherwise, with its state in a
// raft-replicated store under --data-dir.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/grantd/grantd/adapters/registry"
	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/internal/loadgc"
	"github.com/grantd/grantd/internal/memlimit"
	"github.com/grantd/grantd/pki"
	"github.com/grantd/grantd/server"
	"github.com/grantd/grantd/store"
)

func main() {
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "restore":
		err = runRestore(os.Args[2:], os.Stdout, os.Stderr)
	case len(os.Args) > 1 && os.Args[1] == "recover":
		err = runRecover(os.Args[2:], os.Stdout, os.Stderr)
	case len(os.Args) > 1 && os.Args[1] == "cluster":
		err = runCluster(os.Args[2:], os.Stdout, os.Stderr)
	case len(os.Args) > 1 && os.Args[1] == "admin":
		err = runAdmin(os.Args[2:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	default:
		err = run(os.Args[1:], os.Getenv, os.Stderr)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "grantd: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := loadConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// A key that cannot sign stops grantd before it touches anything.
	bundleSigner, err := cfg.bundleSigner()
	if err != nil {
		return err
	}
	if bundleSigner != nil {
		log.Info("policy bundles are signed", "key_id", bundleSigner.KeyID(), "algorithm", bundleSigner.Algorithm())
	}

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	// Take the port before anything else: a port in use must stop grantd
	// before a first start creates the recovery admin and prints its
	// password, not after.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (set --listen or GRANTD_LISTEN to use another address)", cfg.Listen, err)
	}
	defer ln.Close()
	var proxyLn net.Listener
	if cfg.EngineProxyListen != "" {
		if cfg.Insecure {
			return errors.New("--engine-proxy-listen needs TLS; it cannot run with --insecure")
		}
		if proxyLn, err = net.Listen("tcp", cfg.EngineProxyListen); err != nil {
			return fmt.Errorf("engine proxy: listen on %s: %w", cfg.EngineProxyListen, err)
		}
		defer proxyLn.Close()
	}
	var tlsFiles pki.TLSFiles
	if cfg.Insecure {
		log.Warn("TLS IS OFF: --insecure serves plain HTTP; credentials and decisions cross the network in clear text. Never use this in production.")
	} else if tlsFiles, err = pki.EnsureTLS(cfg.DataDir, cfg.TLSCert, cfg.TLSKey, cfg.sans()); err != nil {
		return fmt.Errorf("TLS: %w", err)
	}

	started := time.Now()
	loaded := loadgc.Start()
	engine, err := authz.New(log)
	if err != nil {
		return err
	}
	engine.SetDecisionCache(cfg.DecisionCache)
	storeCfg := store.DefaultConfig(filepath.Join(cfg.DataDir, "raft"))
	storeCfg.Logger = log
	storeCfg.NodeID = cfg.NodeID
	if cfg.ClusterListen != "" {
		join := firstNodeCerts(cfg, log)
		if cfg.Join != "" {
			join = joinCluster(ctx, cfg, getenv, log)
		}
		if join != nil {
			return join
		}
	}
	if storeCfg.Cluster, err = cfg.clusterConfig(); err != nil {
		return err
	}
	// The engine follows every write, replayed ones included, before the
	// write's revision becomes visible; it compiles a restored snapshot
	// while the store still indexes it.
	storeCfg.Observe, storeCfg.Preview = engine.Observe, engine.Preview
	st, err := store.Open(storeCfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("closing store", "err", err)
		}
	}()
	readyWait := time.Minute
	if storeCfg.Cluster != nil && len(storeCfg.Cluster.Peers) == 0 {
		// A node joining an existing cluster waits for an admin to add it
		// (grantctl cluster add): as long as it takes.
		readyWait = 24 * time.Hour
		addr := cmp.Or(storeCfg.Cluster.Advertise, storeCfg.Cluster.Listen)
		if cfg.Join != "" {
			log.Info("waiting for the cluster's leader", "node", cfg.NodeID, "address", addr)
		} else {
			log.Info("waiting to be added to the cluster: grantctl cluster add "+cfg.NodeID+" --address "+addr, "node", cfg.NodeID, "address", addr)
		}
	}
	readyCtx, cancel := context.WithTimeout(ctx, readyWait)
	defer cancel()
	if err := st.WaitReady(readyCtx); err != nil {
		return err
	}
	generated, err := server.Bootstrap(ctx, st, getenv("GRANTD_ADMIN_PASSWORD"), time.Now())
	if errors.Is(err, server.ErrBootstrapped) {
		if getenv("GRANTD_ADMIN_PASSWORD") != "" {
			log.Warn("GRANTD_ADMIN_PASSWORD is ignored: the recovery admin exists already; " +
				"to set its password, stop grantd and run `grantd admin reset-password`")
		}
	} else if err != nil {
		return err
	}
	if generated != "" {
		// The one place a secret is printed: on the terminal of the operator
		// who started the first run, never in the structured log.
		fmt.Fprintf(stderr, "\n  grantd created the recovery admin %q with password: %s\n  It is shown only this once.\n\n", server.RecoveryAdmin, generated)
	}
	log.Info("store ready", "revision", st.Revision(), "elapsed", time.Since(started).String())
	if storeCfg.Cluster != nil {
		if err := pki.EnsureClusterCA(ctx, st, cfg.ClusterCertsDir, time.Now()); err != nil {
			return err
		}
		if err := promoteIfJoinedAsVoter(ctx, cfg, st, log); err != nil {
			return err
		}
	}
	if err := pki.EnsureTokenKeys(ctx, st, cfg.RegistryTokenAlgorithm, time.Now()); err != nil {
		return err
	}
	rootPEM, err := pki.TokenRootPEM(st)
	if err != nil {
		return err
	}
	// Registries trust this file (auth.token.rootcertbundle).
	rootFile := filepath.Join(cfg.DataDir, "registry", "token-root.crt")
	if err := os.MkdirAll(filepath.Dir(rootFile), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(rootFile, []byte(rootPEM), 0o644); err != nil { //nolint:gosec // a public certificate
		return err
	}
	if err := pki.EnsureClientCA(ctx, st, cfg.ClientCACert, cfg.ClientCAKey, time.Now()); err != nil {
		return err
	}
	caPEM, err := pki.ClientCAPEM(st)
	if err != nil {
		return err
	}
	// Docker daemons trust this file for client certificates (--tlscacert).
	clientCAFile := filepath.Join(cfg.DataDir, "engine", "client-ca.pem")
	if err := os.MkdirAll(filepath.Dir(clientCAFile), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(clientCAFile, []byte(caPEM), 0o644); err != nil { //nolint:gosec // a public certificate
		return err
	}
	proxyAddr := ""
	if proxyLn != nil {
		proxyAddr = proxyLn.Addr().String()
	}
	bundles, err := cfg.bundleConfig(proxyAddr, tlsFiles.CA)
	if err != nil {
		return err
	}
	var services []string
	for _, s := range strings.Split(cfg.RegistryServices, ",") {
		if s = strings.TrimSpace(s); s != "" {
			services = append(services, s)
		}
	}

	decisionLog, err := openDecisionLog(cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		// What is buffered is written out (or sent) before grantd exits.
		ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if err := decisionLog.Close(ctx); err != nil {
			log.Error("decision log", "err", err, "lost", decisionLog.Stats().Lost)
		}
	}()
	srv, err := server.New(server.Config{Listen: cfg.Listen, Insecure: cfg.Insecure, TLS: tlsFiles, MaxStaleness: cfg.maxStaleness(),
		MaxRequestBytes: cfg.MaxRequestBytes, ShutdownTimeout: cfg.ShutdownTimeout, TokenAlgorithm: cfg.RegistryTokenAlgorithm,
		Registry: registry.Config{Issuer: cfg.RegistryIssuer, Services: services, Lifetime: cfg.RegistryTokenLifetime},
		Bundles:  bundles, DecisionLog: decisionLog, BundleSigner: bundleSigner},
		st, engine, log)
	if err != nil {
		return err
	}
	log.Info("serving", "addr", ln.Addr().String(), "tls", !cfg.Insecure, "ca", tlsFiles.CA, "registry_token_root", rootFile,
		"client_ca", clientCAFile)
	ctx, cancel = context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 3)
	running := 1
	go func() { errc <- srv.Serve(ctx, ln) }()
	// Loading a large state leaves its transient garbage (decoded rows,
	// superseded index nodes) mapped; give it back to the OS soon rather
	// than whenever the scavenger gets to it. Not before serving: the
	// collection this forces takes seconds with a large state, and
	// decisions need not wait for it. Nor as soon as serving starts: the
	// first requests (enforcement points reconnecting, the first logins)
	// would pay for it, up to a second with enterprise-large. The
	// collector keeps the load's pace until then: back at GOGC's, the
	// heap a load leaves is often past its goal at once, and a collection
	// started before serving made the last steps of start-up pay for it
	// in assists, only to be followed by this one.
	go func() {
		select {
		case <-time.After(startupMemoryDelay):
		case <-ctx.Done():
			return
		}
		start := time.Now()
		loaded()
		debug.FreeOSMemory()
		log.Info(memoryReturned, "elapsed", time.Since(start).String())
		// The runtime reads the process's own environment, not the
		// configuration's getenv: so does this.
		if memlimit.Configured(os.Getenv) {
			return
		}
		first := true
		memlimit.Follow(ctx, memoryLimitInterval, func(limit int64, state, live uint64) {
			level := slog.LevelDebug
			if first {
				level, first = slog.LevelInfo, false
			}
			log.Log(ctx, level, "memory limit", "limit_mib", limit>>20, "state_mib", state>>20, "live_mib", live>>20)
		})
	}()
	if proxyLn != nil {
		if err := startEngineProxy(ctx, cfg, srv, proxyLn, log, errc); err != nil {
			cancel()
			for range running {
				<-errc
			}
			return err
		}
		running++
	}
	if cfg.EnginePlugin {
		n, err := startEnginePlugin(ctx, cfg, srv, tlsFiles, log, errc)
		running += n
		if err != nil {
			cancel()
			for range running - n {
				<-errc
			}
			return err
		}
	}
	// The first server to stop stops the others.
	err = <-errc
	cancel()
	for range running - 1 {
		if e := <-errc; err == nil {
			err = e
		}
	}
	log.Info("stopped", "err", err)
	return err
}

// memoryReturned is logged once the start-up garbage is back with the OS:
// from then on, resident memory is what the loaded state holds.
const memoryReturned = "start-up memory returned to the OS"

// startupMemoryDelay is how long grantd serves before it collects and
// returns the start-up garbage (docs/decisions.md, "Start-up collects
// less often").
const startupMemoryDelay = 2 * time.Second

// memoryLimitInterval is how often the soft memory limit follows the
// state's size (internal/memlimit), unless GOGC or GOMEMLIMIT is set.
const memoryLimitInterval = 10 * time.Second

// startEnginePlugin serves the engine plugin on its unix socket and, when
// configured, over TLS TCP with a spec file for remote daemons. It
// returns how many servers it started; each reports to errc.
func startEnginePlugin(ctx context.Context, cfg config, srv *server.Server, tlsFiles pki.TLSFiles, log *slog.Logger, errc chan<- error) (int, error) {
	engineCfg := server.EngineConfig{API: cfg.EngineAPI, CacheTTL: cfg.EngineLookupCache, AllowLocalSocket: cfg.EngineAllowLocalSocket}
	if strings.HasPrefix(cfg.EngineAPI, "tcp://") && (cfg.EngineAPICA != "" || cfg.EngineAPICert != "") {
		tc, err := pki.ClientTLSConfig(cfg.EngineAPICA, cfg.EngineAPICert, cfg.EngineAPIKey)
		if err != nil {
			return 0, fmt.Errorf("--engine-api TLS: %w", err)
		}
		engineCfg.TLS = tc
	}
	h, err := srv.EnginePlugin(engineCfg)
	if err != nil {
		return 0, err
	}
	sock := cfg.EnginePluginSocket
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		return 0, fmt.Errorf("engine plugin socket: %w", err)
	}
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("engine plugin socket: %w", err)
	}
	uln, err := net.Listen("unix", sock)
	if err != nil {
		return 0, fmt.Errorf("engine plugin socket: %w", err)
	}
	// Only root and the socket's group reach the plugin.
	if err := os.Chmod(sock, 0o660); err != nil {
		_ = uln.Close()
		return 0, err
	}
	if cfg.EngineAllowLocalSocket {
		log.Warn("engine plugin lets requests without a client certificate through (--engine-allow-local-socket)")
	}
	log.Info("engine plugin serving", "socket", sock, "engine_api", cfg.EngineAPI)
	go func() { errc <- srv.ServeEnginePlugin(ctx, uln, h) }()
	if cfg.EnginePluginTCP == "" {
		return 1, nil
	}
	if cfg.Insecure {
		return 1, errors.New("--engine-plugin-tcp needs TLS; it cannot run with --insecure")
	}
	tln, err := net.Listen("tcp", cfg.EnginePluginTCP)
	if err != nil {
		return 1, fmt.Errorf("engine plugin TCP: %w", err)
	}
	spec := cfg.EnginePluginSpec
	if spec == "" {
		spec = filepath.Join(cfg.DataDir, "engine", "grantd.json")
	}
	if err := writePluginSpec(spec, tln.Addr().String(), cfg.EnginePluginTCP); err != nil {
		_ = tln.Close()
		return 1, err
	}
	log.Info("engine plugin serving over TLS", "addr", tln.Addr().String(), "spec", spec, "server_ca", tlsFiles.CA)
	go func() { errc <- srv.ServeEnginePluginTLS(ctx, tln, h) }()
	return 2, nil
}

// startEngineProxy serves the engine API proxy on ln; it reports to errc.
func startEngineProxy(ctx context.Context, cfg config, srv *server.Server, ln net.Listener, log *slog.Logger, errc chan<- error) error {
	pc := server.EngineProxyConfig{EngineConfig: server.EngineConfig{API: cfg.EngineAPI, CacheTTL: cfg.EngineLookupCache}}
	for _, e := range strings.Split(cfg.EngineProxyEngines, ",") {
		if e = strings.TrimSpace(e); e != "" {
			pc.Engines = append(pc.Engines, e)
		}
	}
	if len(pc.Engines) == 0 {
		pc.Engines = []string{cfg.EngineAPI}
	}
	if cfg.EngineAPICA != "" || cfg.EngineAPICert != "" {
		tc, err := pki.ClientTLSConfig(cfg.EngineAPICA, cfg.EngineAPICert, cfg.EngineAPIKey)
		if err != nil {
			return fmt.Errorf("--engine-api TLS: %w", err)
		}
		pc.TLS = tc
	}
	h, err := srv.EngineProxy(pc)
	if err != nil {
		return err
	}
	log.Info("engine proxy serving", "addr", ln.Addr().String(), "engines", strings.Join(pc.Engines, ","))
	go func() { errc <- srv.ServeEngineProxy(ctx, ln, h) }()
	return nil
}

// Where the spec file tells a daemon to find the TLS material on its own
// host (README: "Enable the plugin on a daemon").
const (
	daemonPluginCA   = "/etc/docker/plugins/grantd/ca.pem"
	daemonPluginCert = "/etc/docker/plugins/grantd/cert.pem"
	daemonPluginKey  = "/etc/docker/plugins/grantd/key.pem"
)

// writePluginSpec writes the docker plugin spec file (.json) for daemons
// that reach the plugin over TLS TCP.
func writePluginSpec(path, listening, configured string) error {
	host, port, err := net.SplitHostPort(configured)
	if err != nil {
		return fmt.Errorf("--engine-plugin-tcp: %w", err)
	}
	if _, p, err := net.SplitHostPort(listening); err == nil {
		port = p
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		if host, err = os.Hostname(); err != nil {
			return err
		}
	}
	spec := map[string]any{"Name": "grantd", "Addr": "https://" + net.JoinHostPort(host, port),
		"TLSConfig": map[string]any{"InsecureSkipVerify": false, "CAFile": daemonPluginCA, "CertFile": daemonPluginCert, "KeyFile": daemonPluginKey}}
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644) //nolint:gosec // no secret in it
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel)))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
