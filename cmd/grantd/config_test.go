package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/decisionlog"
)

func TestConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "grantd.yaml")
	yaml := "listen: 127.0.0.1:9000\ndata-dir: /from/file\nlog-level: warn\ntls-san: [a.example, 10.0.0.1]\nshutdown-timeout: 3s\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GRANTD_CONFIG": file, "GRANTD_DATA_DIR": "/from/env", "GRANTD_LOG_LEVEL": "error"}
	cfg, err := loadConfig([]string{"--log-level", "debug"}, func(k string) string { return env[k] }, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := config{Listen: "127.0.0.1:9000", DataDir: "/from/env", LogLevel: "debug", ConfigFile: file,
		TLSSANs: "a.example,10.0.0.1", LogFormat: "json", MaxRequestBytes: 1 << 20, ShutdownTimeout: 3 * time.Second,
		RegistryIssuer: "grantd", RegistryTokenLifetime: 5 * time.Minute, RegistryTokenAlgorithm: "ES256",
		BundleValidity: 365 * 24 * time.Hour, EnginePluginSocket: "/run/docker/plugins/grantd.sock",
		EngineAPI: "unix:///var/run/docker.sock", EngineLookupCache: 2 * time.Second, DecisionCache: authz.DefaultDecisionCache,
		NodeID: "grantd-0", ClusterStaleness: 30 * time.Second, ClusterDeadAfter: time.Hour, ClusterMinQuorum: 3,
		DecisionLogSample: 1, DecisionLogBuffer: decisionlog.DefaultBuffer, DecisionLogMaxFileBytes: decisionlog.DefaultMaxFileBytes,
		DecisionLogMaxFiles: decisionlog.DefaultMaxFiles, DecisionLogBatchBytes: decisionlog.DefaultBatchBytes,
		DecisionLogFlushInterval: decisionlog.DefaultFlushInterval, BundleSigningKeyID: "grantd"}
	if cfg != want {
		t.Fatalf("config = %+v\nwant     %+v", cfg, want)
	}
	if got := cfg.sans(); len(got) != 2 || got[1] != "10.0.0.1" {
		t.Fatalf("sans = %v", got)
	}
}

func TestConfigDefaultsAndErrors(t *testing.T) {
	none := func(string) string { return "" }
	cfg, err := loadConfig(nil, none, &bytes.Buffer{})
	if err != nil || cfg.Listen != ":8443" || cfg.DataDir != "./grantd-data" || cfg.Insecure {
		t.Fatalf("defaults = %+v, %v", cfg, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	_ = os.WriteFile(bad, []byte("lisen: x\n"), 0o600)
	for _, args := range [][]string{
		{"--log-format", "xml"},
		{"--tls-cert", "c.pem"},
		{"--client-ca-cert", "ca.pem"},
		{"--engine-api-key", "k.pem"},
		{"--bundle-validity", "1m"},
		{"--max-request-bytes", "10"},
		{"--config", bad},
		{"--decision-log", "syslog"},
		{"--decision-log", "stdout", "--decision-log-sample", "1.5"},
		{"--decision-log", "stdout", "--decision-log-mask", "/input/password"},
		{"--decision-log", "file:", "--decision-log-buffer", "0"},
		{"stray"},
	} {
		if _, err := loadConfig(args, none, &bytes.Buffer{}); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	var help bytes.Buffer
	if _, err := loadConfig([]string{"--help"}, none, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"--listen", "--data-dir", "--insecure", "--config", "GRANTD_ADMIN_PASSWORD", "GRANTD_<FLAG>"} {
		if !strings.Contains(help.String(), strings.TrimPrefix(want, "-")) {
			t.Errorf("--help does not document %s", want)
		}
	}
}

// A node ID names files in --cluster-certs-dir: it must be a plain name.
func TestClusterNodeIDIsAName(t *testing.T) {
	for id, ok := range map[string]bool{"node1": true, "../etc/x": false, "a b": false, "": false} {
		_, err := loadConfig([]string{"--cluster-listen", "127.0.0.1:8301", "--cluster-certs-dir", "/tmp", "--node-id", id},
			func(string) string { return "" }, io.Discard)
		if (err == nil) != ok {
			t.Errorf("--node-id %q: %v", id, err)
		}
	}
}

// A bundle signing key grantd cannot use stops it before it creates or
// opens anything.
func TestBadBundleSigningKeyStopsGrantdFirst(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	key := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(key, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run([]string{"--data-dir", dir, "--listen", "127.0.0.1:0", "--bundle-signing-key", key}, func(string) string { return "" }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--bundle-signing-key") || !strings.Contains(err.Error(), "not PEM") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the data directory was created: %v", err)
	}
}
