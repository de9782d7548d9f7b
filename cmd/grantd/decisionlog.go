package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/grantd/grantd/decisionlog"
	"github.com/grantd/grantd/pki"
)

// decisionLogConfig is the decision log's configuration from the flags
// (the sink's CA and token are read by openDecisionLog).
func (c config) decisionLogConfig() decisionlog.Config {
	dl := decisionlog.Config{Destination: c.DecisionLog, Buffer: c.DecisionLogBuffer, Sample: c.DecisionLogSample,
		MaxFileBytes: c.DecisionLogMaxFileBytes, MaxFiles: c.DecisionLogMaxFiles, BatchBytes: c.DecisionLogBatchBytes,
		FlushInterval: c.DecisionLogFlushInterval, Labels: map[string]string{"app": "grantd", "id": c.NodeID}}
	for _, m := range strings.Split(c.DecisionLogMask, ",") {
		if m = strings.TrimSpace(m); m != "" {
			dl.Mask = append(dl.Mask, m)
		}
	}
	return dl
}

// openDecisionLog starts the decision log, when configured (nil: off).
func openDecisionLog(c config, log *slog.Logger) (*decisionlog.Logger, error) {
	dl := c.decisionLogConfig()
	if !dl.Enabled() {
		return nil, nil
	}
	if dl.HTTP() {
		tc, err := pki.ClientTLSConfig(c.DecisionLogCA, "", "")
		if err != nil {
			return nil, fmt.Errorf("--decision-log-ca: %w", err)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tc
		dl.Client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
		if c.DecisionLogTokenFile != "" {
			b, err := os.ReadFile(c.DecisionLogTokenFile)
			if err != nil {
				return nil, fmt.Errorf("--decision-log-token-file: %w", err)
			}
			dl.Token = strings.TrimSpace(string(b))
		}
		if u, _ := url.Parse(dl.Destination); u != nil && u.Scheme == "http" && !loopback(u.Hostname()) {
			log.Warn("the decision log goes to a sink over plain HTTP: decisions cross the network unencrypted", "sink", u.Host)
		}
	}
	l, err := decisionlog.New(dl, log)
	if err != nil {
		return nil, err
	}
	attrs := []any{"destination", redactURL(dl.Destination), "sample", dl.Sample, "mask", dl.Mask}
	if dl.HTTP() {
		attrs = append(attrs, "gzip", decisionlog.Compressor)
	}
	log.Info("decision log on", attrs...)
	return l, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// redactURL drops credentials from a URL before it is logged.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}
