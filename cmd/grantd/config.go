package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/decisionlog"
	"github.com/grantd/grantd/pki"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"

	"sigs.k8s.io/yaml"

	"github.com/grantd/grantd/server"
)

// config is everything grantd can be told at start-up.
type config struct {
	Listen          string
	DataDir         string
	Insecure        bool
	ConfigFile      string
	TLSCert         string
	TLSKey          string
	TLSSANs         string
	LogLevel        string
	LogFormat       string
	MaxRequestBytes int64
	ShutdownTimeout time.Duration
	// The registry token service.
	RegistryIssuer         string
	RegistryServices       string
	RegistryTokenLifetime  time.Duration
	RegistryTokenAlgorithm string
	// Client bundles.
	ClientCACert     string
	ClientCAKey      string
	BundleDockerHost string
	BundleDockerCA   string
	BundleValidity   time.Duration
	// The Docker engine authorization plugin.
	EnginePlugin           bool
	EnginePluginSocket     string
	EnginePluginTCP        string
	EnginePluginSpec       string
	EngineAPI              string
	EngineAPICA            string
	EngineAPICert          string
	EngineAPIKey           string
	EngineLookupCache      time.Duration
	DecisionCache          int
	EngineAllowLocalSocket bool
	// The engine API proxy.
	EngineProxyListen  string
	EngineProxyEngines string
	// The cluster (empty ClusterListen: a single node).
	NodeID           string
	ClusterListen    string
	ClusterAdvertise string
	ClusterPeers     string
	ClusterCertsDir  string
	ClusterStaleness time.Duration
	ClusterDeadAfter time.Duration
	ClusterMinQuorum uint
	Join             string
	JoinTokenFile    string
	// The decision log (off unless DecisionLog names a destination).
	DecisionLog              string
	DecisionLogSample        float64
	DecisionLogMask          string
	DecisionLogBuffer        int
	DecisionLogMaxFileBytes  int64
	DecisionLogMaxFiles      int
	DecisionLogBatchBytes    int
	DecisionLogFlushInterval time.Duration
	DecisionLogCA            string
	DecisionLogTokenFile     string
	// Signing the policy bundle agents pull (off unless a key is given).
	BundleSigningKey   string
	BundleSigningKeyID string
}

const envPrefix = "GRANTD_"

// usageFooter documents what flag.PrintDefaults cannot.
const usageFooter = `
Every flag can also be set with an environment variable GRANTD_<FLAG>, upper
case with dashes as underscores (GRANTD_DATA_DIR), or as a key of the YAML
file named by --config (data-dir: /var/lib/grantd). Flags win over the
environment, which wins over the file.

GRANTD_ADMIN_PASSWORD sets the recovery admin's password on first start;
without it a random password is printed once. GRANTD_JOIN_TOKEN is the join
token of --join (or use --join-token-file; never put it on the command line).
`

// loadConfig reads flags, then the environment, then the YAML file.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("grantd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Listen, "listen", ":8443", "address serving gRPC and REST")
	fs.StringVar(&c.DataDir, "data-dir", "./grantd-data", "directory of the store, its raft log and the TLS material")
	fs.BoolVar(&c.Insecure, "insecure", false, "serve plain HTTP without TLS (never in production)")
	fs.StringVar(&c.ConfigFile, "config", "", "optional YAML configuration file")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "serving certificate (PEM); default: one grantd creates in <data-dir>/tls")
	fs.StringVar(&c.TLSKey, "tls-key", "", "key of --tls-cert (PEM)")
	fs.StringVar(&c.TLSSANs, "tls-san", "", "comma-separated extra host names and IPs for the generated certificate")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.IntVar(&c.DecisionCache, "decision-cache", authz.DefaultDecisionCache, "decisions remembered; a write invalidates only those it can change (0: off)")
	fs.StringVar(&c.LogFormat, "log-format", "json", "json or text")
	fs.Int64Var(&c.MaxRequestBytes, "max-request-bytes", 1<<20, "largest request body or gRPC message accepted")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "how long to drain requests on SIGTERM")
	fs.StringVar(&c.RegistryIssuer, "registry-issuer", "grantd", "iss claim of registry tokens (the registry's auth.token.issuer)")
	fs.StringVar(&c.RegistryServices, "registry-services", "", "comma-separated registry service names tokens are issued for (default: any)")
	fs.DurationVar(&c.RegistryTokenLifetime, "registry-token-lifetime", 5*time.Minute, "lifetime of registry tokens")
	fs.StringVar(&c.RegistryTokenAlgorithm, "registry-token-algorithm", "ES256", "signing algorithm of registry tokens: ES256 or RS256")
	fs.StringVar(&c.ClientCACert, "client-ca-cert", "", "the operator's own client CA certificate (PEM); default: one grantd creates")
	fs.StringVar(&c.ClientCAKey, "client-ca-key", "", "key of --client-ca-cert (PEM)")
	fs.StringVar(&c.BundleDockerHost, "bundle-docker-host", "", "DOCKER_HOST written into client bundles; several, comma-separated (tcp:// only), and env.sh picks the first that answers (default: the engine proxy when it runs, else tcp://<this host>:2376)")
	fs.StringVar(&c.BundleDockerCA, "bundle-docker-ca", "", "CA of the daemons' server certificates, ca.pem of client bundles (default: grantd's TLS CA with the engine proxy, else the client CA)")
	fs.DurationVar(&c.BundleValidity, "bundle-validity", 365*24*time.Hour, "validity of client bundle certificates: the default and the longest allowed")
	fs.BoolVar(&c.EnginePlugin, "engine-plugin", false, "serve the Docker engine authorization plugin (docker.authz/1.0)")
	fs.StringVar(&c.EnginePluginSocket, "engine-plugin-socket", "/run/docker/plugins/grantd.sock", "unix socket of the engine plugin (the daemon finds it by this name)")
	fs.StringVar(&c.EnginePluginTCP, "engine-plugin-tcp", "", "also serve the engine plugin over TLS on this address (daemons on other hosts)")
	fs.StringVar(&c.EnginePluginSpec, "engine-plugin-spec", "", "where to write the plugin spec file for --engine-plugin-tcp (default <data-dir>/engine/grantd.json)")
	fs.StringVar(&c.EngineAPI, "engine-api", "unix:///var/run/docker.sock", "engine API the plugin looks objects' labels up through")
	fs.StringVar(&c.EngineAPICA, "engine-api-ca", "", "CA of a tcp:// --engine-api (PEM)")
	fs.StringVar(&c.EngineAPICert, "engine-api-cert", "", "client certificate for a tcp:// --engine-api (PEM)")
	fs.StringVar(&c.EngineAPIKey, "engine-api-key", "", "key of --engine-api-cert (PEM)")
	fs.DurationVar(&c.EngineLookupCache, "engine-lookup-cache", 2*time.Second, "how long the plugin reuses an object lookup")
	fs.BoolVar(&c.EngineAllowLocalSocket, "engine-allow-local-socket", false, "let requests without a client certificate (the daemon's local socket) through the plugin")
	fs.StringVar(&c.EngineProxyListen, "engine-proxy-listen", "", "serve the engine API proxy (mTLS with bundle certificates) on this address, e.g. :2376; bundles then point at it")
	fs.StringVar(&c.NodeID, "node-id", "grantd-0", "this node's ID in the cluster")
	fs.StringVar(&c.ClusterListen, "cluster-listen", "", "serve the cluster port (raft and forwarded writes, mutual TLS) here, e.g. 10.0.0.1:8301; empty: a single node")
	fs.StringVar(&c.ClusterAdvertise, "cluster-advertise", "", "the address other nodes reach this one at (default --cluster-listen)")
	fs.StringVar(&c.ClusterPeers, "cluster-peers", "", "the founding members, the same on every founding node: id=host:port,id=host:port,...")
	fs.DurationVar(&c.ClusterStaleness, "cluster-max-staleness", 30*time.Second, "how long a node cut off from the cluster's leader goes on deciding from its last state before it denies (0: for ever)")
	fs.DurationVar(&c.ClusterDeadAfter, "cluster-dead-after", time.Hour, "the leader removes a member unreachable this long (raft-autopilot; 0: never)")
	fs.UintVar(&c.ClusterMinQuorum, "cluster-min-quorum", 3, "dead-member removal never leaves fewer voters than this")
	fs.StringVar(&c.ClusterCertsDir, "cluster-certs-dir", "", "directory with cluster-ca.pem, <node-id>.pem and <node-id>-key.pem (`grantd cluster certs`)")
	fs.StringVar(&c.Join, "join", "", "join the cluster through any of these nodes' API addresses (host:port,...) with a join token; needs --cluster-listen and no --cluster-peers")
	fs.StringVar(&c.JoinTokenFile, "join-token-file", "", "file holding the join token (grantctl cluster join-token); or set GRANTD_JOIN_TOKEN")
	fs.StringVar(&c.EngineProxyEngines, "engine-proxy-engines", "", "comma-separated engine endpoints the proxy forwards to, tried in order (default: --engine-api)")
	dl := decisionlog.DefaultConfig()
	fs.StringVar(&c.DecisionLog, "decision-log", "", "log every decision: stdout, file:<path> (JSON lines, rotated) or an http(s) URL taking OPA decision-log batches; empty: off")
	fs.Float64Var(&c.DecisionLogSample, "decision-log-sample", dl.Sample, "share of allowed decisions logged, 0 to 1 (denials are always logged)")
	fs.StringVar(&c.DecisionLogMask, "decision-log-mask", "", "comma-separated fields erased from every event, e.g. /input/subject,/requested_by")
	fs.IntVar(&c.DecisionLogBuffer, "decision-log-buffer", dl.Buffer, "decisions waiting for the log writer; when full, new ones are dropped and counted")
	fs.Int64Var(&c.DecisionLogMaxFileBytes, "decision-log-max-file-bytes", dl.MaxFileBytes, "size at which the decision log file is rotated")
	fs.IntVar(&c.DecisionLogMaxFiles, "decision-log-max-files", dl.MaxFiles, "rotated decision log files kept")
	fs.IntVar(&c.DecisionLogBatchBytes, "decision-log-batch-bytes", dl.BatchBytes, "uncompressed size of a batch sent to an HTTP decision log")
	fs.DurationVar(&c.DecisionLogFlushInterval, "decision-log-flush-interval", dl.FlushInterval, "longest a decision waits to be written or sent")
	fs.StringVar(&c.DecisionLogCA, "decision-log-ca", "", "CA (PEM) of an https decision log sink (default: the system's)")
	fs.StringVar(&c.DecisionLogTokenFile, "decision-log-token-file", "", "file holding a bearer token for the HTTP decision log sink")
	fs.StringVar(&c.BundleSigningKey, "bundle-signing-key", "", "private key (PEM: RSA, or ECDSA P-256/384/521) that signs the policy bundle OPA agents pull; empty: unsigned")
	fs.StringVar(&c.BundleSigningKeyID, "bundle-signing-key-id", "grantd", "key ID the bundle signatures carry (the agents' signing.keyid)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: grantd [flags]\n\ngrantd is an access-control policy server.\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprint(stderr, usageFooter)
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	// The environment fills what the flags left unset, config file included.
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(envName(f.Name)); v != "" && !explicit[f.Name] {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", envName(f.Name), err))
			}
			explicit[f.Name] = true
		}
	})
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	if c.ConfigFile != "" {
		if err := applyFile(fs, c.ConfigFile, explicit); err != nil {
			return c, err
		}
	}
	return c, c.validate()
}

func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// applyFile sets the flags the file names, unless flags or the
// environment set them already. Unknown keys are errors.
func applyFile(fs *flag.FlagSet, path string, explicit map[string]bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	var kv map[string]any
	if err := yaml.Unmarshal(b, &kv); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	var errs []error
	for k, v := range kv {
		f := fs.Lookup(k)
		switch {
		case f == nil || k == "config":
			errs = append(errs, fmt.Errorf("config file %s: unknown key %q", path, k))
		case explicit[k]:
		default:
			if list, ok := v.([]any); ok {
				parts := make([]string, len(list))
				for i, x := range list {
					parts[i] = fmt.Sprint(x)
				}
				v = strings.Join(parts, ",")
			}
			if err := fs.Set(k, fmt.Sprint(v)); err != nil {
				errs = append(errs, fmt.Errorf("config file %s: %s: %w", path, k, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (c config) validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("--listen must not be empty"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	if c.MaxRequestBytes < 1024 {
		errs = append(errs, errors.New("--max-request-bytes must be at least 1024"))
	}
	if (c.ClientCACert == "") != (c.ClientCAKey == "") {
		errs = append(errs, errors.New("--client-ca-cert and --client-ca-key go together"))
	}
	if (c.EngineAPICert == "") != (c.EngineAPIKey == "") {
		errs = append(errs, errors.New("--engine-api-cert and --engine-api-key go together"))
	}
	if c.BundleValidity < time.Hour || c.BundleValidity > 10*365*24*time.Hour {
		errs = append(errs, errors.New("--bundle-validity must be 1h to 87600h (ten years)"))
	}
	if c.RegistryTokenLifetime < time.Second || c.RegistryTokenLifetime > 24*time.Hour {
		errs = append(errs, errors.New("--registry-token-lifetime must be 1s to 24h"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if c.ClusterListen != "" {
		if err := subjects.ValidOrgName(c.NodeID); err != nil {
			errs = append(errs, fmt.Errorf("--node-id: %w", err))
		}
		if c.ClusterCertsDir == "" {
			errs = append(errs, errors.New("--cluster-listen needs --cluster-certs-dir: nodes talk mutual TLS only"))
		}
		if _, err := c.peers(); err != nil {
			errs = append(errs, err)
		}
		if c.Join != "" && c.ClusterPeers != "" {
			errs = append(errs, errors.New("--join and --cluster-peers exclude each other: a joining node is admitted by the cluster, a founding one names its peers"))
		}
	} else if c.Join != "" {
		errs = append(errs, errors.New("--join needs --cluster-listen (and --cluster-certs-dir)"))
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		errs = append(errs, fmt.Errorf("--log-format %q is neither json nor text", c.LogFormat))
	}
	if err := c.decisionLogConfig().Validate(); c.DecisionLog != "" && err != nil {
		errs = append(errs, err)
	}
	if c.DecisionCache < 0 {
		errs = append(errs, errors.New("--decision-cache must not be negative"))
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level %q is not one of debug, info, warn, error", c.LogLevel))
	}
	return errors.Join(errs...)
}

func (c config) sans() []string {
	var out []string
	for _, s := range strings.Split(c.TLSSANs, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// bundleConfig is what client bundles carry besides the certificate.
// With the engine proxy on, bundles point at it (proxyAddr is where it
// listens) and trust grantd's own TLS CA (serverCA).
func (c config) bundleConfig(proxyAddr, serverCA string) (server.BundleConfig, error) {
	b := server.BundleConfig{Validity: c.BundleValidity}
	for _, h := range strings.Split(c.BundleDockerHost, ",") {
		if h = strings.TrimSpace(h); h != "" {
			b.DockerHosts = append(b.DockerHosts, h)
		}
	}
	if len(b.DockerHosts) == 0 && proxyAddr != "" {
		b.DockerHosts = []string{"tcp://" + proxyHost(proxyAddr)}
	}
	if c.BundleDockerCA == "" && proxyAddr != "" && serverCA != "" {
		pem, err := os.ReadFile(serverCA)
		if err != nil {
			return b, fmt.Errorf("grantd's TLS CA for bundles: %w", err)
		}
		b.DockerCAPEM = string(pem)
	}
	if len(b.DockerHosts) == 0 {
		// This host's name, when it is one a shell needs no quoting for.
		b.DockerHosts = []string{"tcp://localhost:2376"}
		if host, err := os.Hostname(); err == nil && server.ValidDockerHost("tcp://"+net.JoinHostPort(host, "2376")) == nil {
			b.DockerHosts = []string{"tcp://" + net.JoinHostPort(host, "2376")}
		}
	}
	if c.BundleDockerCA != "" {
		pem, err := os.ReadFile(c.BundleDockerCA)
		if err != nil {
			return b, fmt.Errorf("--bundle-docker-ca: %w", err)
		}
		b.DockerCAPEM = string(pem)
	}
	return b, nil
}

// proxyHost is the host:port clients reach the proxy at: its listening
// address, with this host's name (or localhost) for a wildcard host.
func proxyHost(listening string) string {
	host, port, err := net.SplitHostPort(listening)
	if err != nil {
		return listening
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
		if h, err := os.Hostname(); err == nil && server.ValidDockerHost("tcp://"+net.JoinHostPort(h, port)) == nil {
			host = h
		}
	}
	if host == "127.0.0.1" || host == "::1" {
		host = "localhost" // the name grantd's generated certificate carries
	}
	return net.JoinHostPort(host, port)
}

// peers parses --cluster-peers.
func (c config) peers() ([]store.Peer, error) {
	var out []store.Peer
	for _, item := range strings.Split(c.ClusterPeers, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		id, addr, ok := strings.Cut(item, "=")
		if _, _, err := net.SplitHostPort(addr); !ok || id == "" || err != nil {
			return nil, fmt.Errorf("--cluster-peers: %q is not id=host:port", item)
		}
		out = append(out, store.Peer{ID: id, Address: addr})
	}
	return out, nil
}

// clusterConfig is the store's cluster configuration (nil: a single node).
func (c config) clusterConfig() (*store.ClusterConfig, error) {
	if c.ClusterListen == "" {
		return nil, nil
	}
	peers, err := c.peers()
	if err != nil {
		return nil, err
	}
	tc, err := pki.ClusterTLSConfig(pki.ClusterFilesIn(c.ClusterCertsDir, c.NodeID))
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return &store.ClusterConfig{Listen: c.ClusterListen, Advertise: c.ClusterAdvertise, TLS: tc, Peers: peers,
		Autopilot: store.AutopilotConfig{DeadAfter: c.ClusterDeadAfter, MinQuorum: c.ClusterMinQuorum}}, nil
}

// maxStaleness applies to cluster nodes only: a single node is its own
// leader.
func (c config) maxStaleness() time.Duration {
	if c.ClusterListen == "" {
		return 0
	}
	return c.ClusterStaleness
}

// bundleSigner reads --bundle-signing-key (nil: the policy bundle is
// served unsigned).
func (c config) bundleSigner() (*authz.BundleSigner, error) {
	if c.BundleSigningKey == "" {
		return nil, nil
	}
	keyPEM, err := os.ReadFile(c.BundleSigningKey)
	if err != nil {
		return nil, fmt.Errorf("--bundle-signing-key: %w", err)
	}
	key, err := pki.ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("--bundle-signing-key %s: %w", c.BundleSigningKey, err)
	}
	s, err := authz.NewBundleSigner(key, c.BundleSigningKeyID)
	if err != nil {
		return nil, fmt.Errorf("--bundle-signing-key %s: %w", c.BundleSigningKey, err)
	}
	return s, nil
}
