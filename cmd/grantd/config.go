package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
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
}

const envPrefix = "GRANTD_"

// usageFooter documents what flag.PrintDefaults cannot.
const usageFooter = `
Every flag can also be set with an environment variable GRANTD_<FLAG>, upper
case with dashes as underscores (GRANTD_DATA_DIR), or as a key of the YAML
file named by --config (data-dir: /var/lib/grantd). Flags win over the
environment, which wins over the file.

GRANTD_ADMIN_PASSWORD sets the recovery admin's password on first start;
without it a random password is printed once.
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
	fs.StringVar(&c.LogFormat, "log-format", "json", "json or text")
	fs.Int64Var(&c.MaxRequestBytes, "max-request-bytes", 1<<20, "largest request body or gRPC message accepted")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "how long to drain requests on SIGTERM")
	fs.StringVar(&c.RegistryIssuer, "registry-issuer", "grantd", "iss claim of registry tokens (the registry's auth.token.issuer)")
	fs.StringVar(&c.RegistryServices, "registry-services", "", "comma-separated registry service names tokens are issued for (default: any)")
	fs.DurationVar(&c.RegistryTokenLifetime, "registry-token-lifetime", 5*time.Minute, "lifetime of registry tokens")
	fs.StringVar(&c.RegistryTokenAlgorithm, "registry-token-algorithm", "ES256", "signing algorithm of registry tokens: ES256 or RS256")
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
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		errs = append(errs, fmt.Errorf("--log-format %q is neither json nor text", c.LogFormat))
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
