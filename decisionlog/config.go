package decisionlog

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config says where decisions go and how.
//
//	decision-log: https://logs.example.com/logs   # or stdout, or file:/var/log/grantd/decisions.jsonl
//	decision-log-sample: 0.1                      # keep 10 % of allowed decisions, every denial
//	decision-log-mask: /input/subject,/custom/request_id
type Config struct {
	// Destination is "stdout", "file:<path>", or an http:// or https://
	// URL the batches are POSTed to.
	Destination string
	// Buffer is how many records wait for the writer before new ones are
	// dropped.
	Buffer int
	// Sample is the share of allowed decisions kept, in [0, 1].
	Sample float64
	// Mask lists the fields erased from every event, as JSON pointers
	// (Maskable lists them).
	Mask []string
	// MaxFileBytes is the size at which the file is rotated; MaxFiles how
	// many rotated files are kept (path.1 is the newest).
	MaxFileBytes int64
	MaxFiles     int
	// BatchBytes is the uncompressed size of an HTTP batch;
	// FlushInterval the longest an event waits to be written or sent.
	BatchBytes    int
	FlushInterval time.Duration
	// Client sends the HTTP batches (its transport carries the sink's CA);
	// Token, when set, is sent as a bearer token.
	Client *http.Client
	Token  string
	// Labels go into every event (OPA's labels: id, version, ...).
	Labels map[string]string
}

// Defaults.
const (
	DefaultBuffer        = 10000
	DefaultMaxFileBytes  = 100 << 20
	DefaultMaxFiles      = 5
	DefaultBatchBytes    = 1 << 20
	DefaultFlushInterval = 2 * time.Second
)

// DefaultConfig is the configuration with every default set and no
// destination (logging off).
func DefaultConfig() Config {
	return Config{Buffer: DefaultBuffer, Sample: 1, MaxFileBytes: DefaultMaxFileBytes, MaxFiles: DefaultMaxFiles,
		BatchBytes: DefaultBatchBytes, FlushInterval: DefaultFlushInterval}
}

// Enabled reports whether decisions are logged at all.
func (c Config) Enabled() bool { return c.Destination != "" }

// HTTP reports whether decisions go to an HTTP sink.
func (c Config) HTTP() bool {
	kind, _ := c.destination()
	return kind == "http"
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	switch kind, rest := c.destination(); kind {
	case "":
	case "stdout":
	case "file":
		if rest == "" {
			errs = append(errs, errors.New("decision log: file: needs a path"))
		}
	case "http":
		if u, err := url.Parse(c.Destination); err != nil || u.Host == "" {
			errs = append(errs, fmt.Errorf("decision log: %q is not a URL with a host", c.Destination))
		}
	default:
		errs = append(errs, fmt.Errorf("decision log: destination %q is not stdout, file:<path> or an http(s) URL", c.Destination))
	}
	if c.Buffer < 1 || c.Buffer > 10_000_000 {
		errs = append(errs, fmt.Errorf("decision log: buffer %d is not in 1..10000000", c.Buffer))
	}
	if c.Sample < 0 || c.Sample > 1 {
		errs = append(errs, fmt.Errorf("decision log: sample %v is not in [0, 1]", c.Sample))
	}
	if _, err := parseMask(c.Mask); err != nil {
		errs = append(errs, err)
	}
	if c.MaxFileBytes < 4096 {
		errs = append(errs, fmt.Errorf("decision log: max file bytes %d is below 4096", c.MaxFileBytes))
	}
	if c.MaxFiles < 1 || c.MaxFiles > 1000 {
		errs = append(errs, fmt.Errorf("decision log: max files %d is not in 1..1000", c.MaxFiles))
	}
	if c.BatchBytes < 1024 || c.BatchBytes > 64<<20 {
		errs = append(errs, fmt.Errorf("decision log: batch bytes %d is not in 1 KiB..64 MiB", c.BatchBytes))
	}
	if c.FlushInterval < time.Millisecond || c.FlushInterval > time.Hour {
		errs = append(errs, fmt.Errorf("decision log: flush interval %v is not in 1ms..1h", c.FlushInterval))
	}
	return errors.Join(errs...)
}

// destination splits Destination into its kind (stdout, file, http) and
// the rest.
func (c Config) destination() (kind, rest string) {
	switch d := c.Destination; {
	case d == "":
		return "", ""
	case d == "stdout":
		return "stdout", ""
	case strings.HasPrefix(d, "file:"):
		return "file", strings.TrimPrefix(d, "file:")
	case strings.HasPrefix(d, "http://"), strings.HasPrefix(d, "https://"):
		return "http", d
	}
	return "unknown", ""
}
