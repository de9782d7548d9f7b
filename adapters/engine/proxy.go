package engine

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/collections"
)

// The engine API proxy is the Docker endpoint client bundles point at
// (DOCKER_HOST), in front of one or more engines, as UCP was. It decides
// every call with the plugin's route table, options and resolver (one
// decision path), writes the creator's default collection into
// unlabelled creates, filters lists and the event stream down to what the
// caller may view, and passes everything else through — streams and
// hijacked connections (attach, exec) included.

// ProxyConfig configures a Proxy.
type ProxyConfig struct {
	// Engines are the engine API endpoints (unix:///path or tcp://host:port),
	// tried in order until one answers: one engine, or the managers of a swarm.
	Engines []string
	// TLS is the client configuration for tcp:// engines (nil: plain TCP).
	TLS *tls.Config
	// Observe, when set, is told about every decided call.
	Observe func(operation string, allowed bool, took time.Duration)
}

// Proxy serves the Engine API to identified callers.
type Proxy struct {
	cfg       ProxyConfig
	plugin    *Plugin
	transport *http.Transport
	forward   *httputil.ReverseProxy
	log       *slog.Logger
}

// Bounds of what the proxy reads itself. A decided request body (a
// create's or update's JSON) is small; a list answer of thousands of
// objects is not.
const (
	maxDecidedBody = 1 << 20
	maxListAnswer  = 256 << 20
)

// NewProxy returns a proxy deciding with backend and looking objects up
// with resolver (which may talk to the same engines).
func NewProxy(cfg ProxyConfig, backend Backend, resolver *Resolver, log *slog.Logger) (*Proxy, error) {
	if len(cfg.Engines) == 0 {
		return nil, errors.New("the engine proxy needs at least one engine endpoint")
	}
	dial, err := dialer(cfg.Engines, cfg.TLS)
	if err != nil {
		return nil, err
	}
	// No response-header timeout: a container's wait, attach or a build
	// answers when it is done, as the engine does directly.
	tr := &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute, DisableCompression: true}
	px := &Proxy{cfg: cfg, plugin: New(Config{}, backend, resolver, log), transport: tr, log: log}
	px.forward = &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { toEngine(pr.Out) },
		Transport: tr,
		// No FlushInterval: an answer of unknown length (logs -f, stats,
		// pull and build progress) is flushed on every write anyway, and
		// one of known length goes out whole, with its Content-Length, in
		// one write rather than as a flushed chunk and a terminator.
		BufferPool: copyBuffers{},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() == nil {
				log.WarnContext(r.Context(), "engine proxy: the engine did not answer", "path", r.URL.Path, "err", err)
			}
			engineError(w, http.StatusBadGateway, "grantd: the engine cannot be reached: "+err.Error())
		},
	}
	return px, nil
}

// copyBuffers reuses the buffers answers are copied through: without
// them every call allocates 32 KiB, and the garbage collector that follows
// competes for the cores with the engine.
type copyBuffers struct{}

var copyBufferPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (copyBuffers) Get() []byte  { return *copyBufferPool.Get().(*[]byte) }
func (copyBuffers) Put(b []byte) { copyBufferPool.Put(&b) }

// toEngine points a request at the engine and drops what callers must
// not send it (the resolver's lookup header).
func toEngine(out *http.Request) {
	out.URL.Scheme, out.URL.Host, out.Host = "http", engineHost, engineHost
	out.Header.Del(LookupHeader)
}

// engineError answers in the engine's own error shape.
func engineError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// ServeHTTP decides and forwards one Engine API call. The caller is the
// account of the client certificate of the connection.
func (px *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	op, err := px.serve(w, r)
	if px.cfg.Observe != nil && op != "" {
		px.cfg.Observe(op, err == nil, time.Since(start))
	}
	if err == nil {
		return
	}
	var d denial
	if !errors.As(err, &d) {
		px.log.WarnContext(r.Context(), "engine proxy: call refused on error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	engineError(w, http.StatusForbidden, "grantd: "+err.Error())
}

// serve returns the call's operation and nil once it has answered, or
// the reason to refuse it (nothing has been written then).
func (px *Proxy) serve(w http.ResponseWriter, r *http.Request) (string, error) {
	ctx := r.Context()
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return "", deny("a client certificate from a grantd bundle is required")
	}
	cert := r.TLS.PeerCertificates[0]
	id, err := px.plugin.backend.Identify(ctx, cert.Subject.CommonName, cert)
	if err != nil {
		return "", deny("%v", err)
	}
	rt, vars, ok := match(r.Method, r.URL.Path)
	if !ok {
		px.log.WarnContext(ctx, "engine proxy: unknown route refused", "method", r.Method, "path", r.URL.Path)
		return "unknown", deny("%s %s is not a known Engine API route", r.Method, r.URL.Path)
	}
	switch {
	case rt.access == authenticated:
		px.forward.ServeHTTP(w, r)
		return "authenticated", nil
	case rt.access == adminOnly:
		if !id.IsAdmin {
			return "admin", deny("%s %s is for system admins only", r.Method, r.URL.Path)
		}
		px.forward.ServeHTTP(w, r)
		return "admin", nil
	case rt.list && id.IsAdmin:
		px.forward.ServeHTTP(w, r) // system admins see everything
		return rt.op, nil
	case rt.list:
		return rt.op, px.serveList(w, r, id, rt)
	}
	var body []byte
	if rt.body != noBody {
		if body, err = readBody(r); err != nil {
			return rt.op, err
		}
	}
	answers, err := px.plugin.decideCall(ctx, id, rt, vars, r.URL.Query(), body, true)
	if err != nil {
		return rt.op, err
	}
	if stamp := answers[0].stamp; stamp != "" {
		if body, err = stampLabel(rt.body, body, stamp); err != nil {
			return rt.op, err
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		r.Header.Set("Content-Length", fmt.Sprint(len(body)))
	}
	px.forward.ServeHTTP(w, r)
	return rt.op, nil
}

// readBody reads a request body the proxy decides on, and puts it back.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxDecidedBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the request body: %w", err)
	}
	if len(body) > maxDecidedBody {
		return nil, deny("the request body is larger than %d bytes", maxDecidedBody)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

// serveList answers a list call with only what the caller may view.
func (px *Proxy) serveList(w http.ResponseWriter, r *http.Request, id Identity, rt *route) error {
	ctx := r.Context()
	if rt.pattern == "/images/json" {
		// Images are node-wide, in no collection: the list is all or
		// nothing, as image.view on / decides.
		d := px.plugin.backend.Decide(ctx, authz.Request{Subject: id.Subject, Operation: rt.op, Collection: collections.Root})
		if !d.Allowed {
			writeJSONList(w, []json.RawMessage{})
			return nil
		}
		px.forward.ServeHTTP(w, r)
		return nil
	}
	out := r.Clone(ctx)
	toEngine(out)
	out.RequestURI = ""
	resp, err := px.transport.RoundTrip(out)
	if err != nil {
		return fmt.Errorf("the engine cannot be reached: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if rt.pattern == "/events" {
		px.streamEvents(w, resp, id)
		return nil
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxListAnswer+1))
	if err != nil {
		return fmt.Errorf("reading the engine's answer: %w", err)
	}
	if len(raw) > maxListAnswer {
		return deny("the engine's list is larger than %d bytes", maxListAnswer)
	}
	if resp.StatusCode != http.StatusOK {
		copyHeader(w.Header(), resp.Header)
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(raw)
		return nil
	}
	filtered, err := px.filterList(ctx, id, rt, raw)
	if err != nil {
		return err
	}
	copyHeader(w.Header(), resp.Header)
	w.Header().Set("Content-Length", fmt.Sprint(len(filtered)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(filtered)
	return nil
}

func writeJSONList(w http.ResponseWriter, items []json.RawMessage) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(items)
}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		if strings.EqualFold(k, "Content-Length") {
			continue
		}
		dst[k] = append([]string(nil), vs...)
	}
}
