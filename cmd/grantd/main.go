// Command grantd is the grantd server: it serves the gRPC API and its REST
// gateway on one port, over TLS unless told otherwise, with its state in a
// raft-replicated store under --data-dir.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/grantd/grantd/adapters/registry"
	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/server"
	"github.com/grantd/grantd/store"
)

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stderr); err != nil {
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

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	var tlsFiles server.TLSFiles
	if cfg.Insecure {
		log.Warn("TLS IS OFF: --insecure serves plain HTTP; credentials and decisions cross the network in clear text. Never use this in production.")
	} else if tlsFiles, err = server.EnsureTLS(cfg.DataDir, cfg.TLSCert, cfg.TLSKey, cfg.sans()); err != nil {
		return fmt.Errorf("TLS: %w", err)
	}

	started := time.Now()
	engine, err := authz.New(log)
	if err != nil {
		return err
	}
	storeCfg := store.DefaultConfig(filepath.Join(cfg.DataDir, "raft"))
	storeCfg.Logger = log
	// The engine follows every write, replayed ones included, before the
	// write's revision becomes visible.
	storeCfg.Observe = engine.Observe
	st, err := store.Open(storeCfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("closing store", "err", err)
		}
	}()
	readyCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := st.WaitReady(readyCtx); err != nil {
		return err
	}
	generated, err := server.Bootstrap(ctx, st, getenv("GRANTD_ADMIN_PASSWORD"), time.Now())
	if err != nil {
		return err
	}
	if generated != "" {
		// The one place a secret is printed: on the terminal of the operator
		// who started the first run, never in the structured log.
		fmt.Fprintf(stderr, "\n  grantd created the recovery admin %q with password: %s\n  It is shown only this once.\n\n", server.RecoveryAdmin, generated)
	}
	log.Info("store ready", "revision", st.Revision(), "elapsed", time.Since(started).String())
	if err := server.EnsureTokenKeys(ctx, st, cfg.RegistryTokenAlgorithm, time.Now()); err != nil {
		return err
	}
	rootPEM, err := server.TokenRootPEM(st)
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
	var services []string
	for _, s := range strings.Split(cfg.RegistryServices, ",") {
		if s = strings.TrimSpace(s); s != "" {
			services = append(services, s)
		}
	}

	srv, err := server.New(server.Config{Listen: cfg.Listen, Insecure: cfg.Insecure, TLS: tlsFiles,
		MaxRequestBytes: cfg.MaxRequestBytes, ShutdownTimeout: cfg.ShutdownTimeout, TokenAlgorithm: cfg.RegistryTokenAlgorithm,
		Registry: registry.Config{Issuer: cfg.RegistryIssuer, Services: services, Lifetime: cfg.RegistryTokenLifetime}},
		st, engine, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	log.Info("serving", "addr", ln.Addr().String(), "tls", !cfg.Insecure, "ca", tlsFiles.CA, "registry_token_root", rootFile)
	err = srv.Serve(ctx, ln)
	log.Info("stopped", "err", err)
	return err
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
