package server

import (
	"context"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/decisionlog"
)

// decisions asks the engine and records every decision in the decision
// log, when one is configured (a nil log records nothing).
type decisions struct {
	engine *authz.Engine
	log    *decisionlog.Logger
}

// Interfaces a decision can come through, as the decision log names them.
const (
	viaGRPC       = "grpc"
	viaREST       = "rest"
	viaPlugin     = "docker-plugin"
	viaRegistry   = "registry"
	viaKubernetes = "kubernetes"
	viaAuthZEN    = "authzen"
	// viaContext: the context says (httpCall.interfaceName), read only when the decision
	// is logged.
	viaContext = ""
)

// now is when a decision starts, for the log; nothing is read from the
// clock when there is no log.
func (ds decisions) now() time.Time {
	if ds.log == nil {
		return time.Time{}
	}
	return time.Now()
}

// decide answers r with the engine. The sampling draw comes first, so
// the grants behind an allowed decision are looked up only when it is
// kept; denials are always kept.
func (ds decisions) decide(ctx context.Context, r authz.Request, via string) authz.Decision {
	if ds.log == nil {
		return ds.engine.Decide(ctx, r)
	}
	start := time.Now()
	keep := ds.log.SampleAllowed()
	d, grants := ds.engine.DecideWithGrants(ctx, r, keep)
	if keep || !d.Allowed {
		ds.log.Log(record(ctx, start, r, d, grants, via))
	}
	return d
}

// denied records a denial made without the engine: a stale node, a
// malformed request, a revision that did not arrive in time.
func (ds decisions) denied(ctx context.Context, start time.Time, r authz.Request, d authz.Decision, via string) {
	if ds.log != nil {
		ds.log.Log(record(ctx, start, r, d, nil, via))
	}
}

func record(ctx context.Context, start time.Time, r authz.Request, d authz.Decision, grants []string, via string) decisionlog.Record {
	call := httpCallOf(ctx) // one walk up the context for the three facts an HTTP route keeps
	if via == viaContext {
		via = call.interfaceName()
	}
	rec := decisionlog.Record{Time: start, Request: r, Decision: d, Grants: grants, Latency: time.Since(start),
		Interface: via, Address: call.peerAddr(ctx), RequestID: call.requestIDOr(ctx)}
	if p := principalFrom(ctx); p != nil {
		rec.Caller = p.Subject()
	}
	return rec
}

// httpCall is what the HTTP routes keep about a call for the decisions it
// leads to: the client's address, its X-Request-ID (bounded) and, for the
// routes that say so, the interface.
type httpCall struct {
	addr      tcpAddrString
	requestID string
	via       string
}

type httpCallKey struct{}

// withHTTPCall keeps what the decision log and the audit log want to know
// about an HTTP request.
func withHTTPCall(r *http.Request) *http.Request {
	c := &httpCall{addr: tcpAddrString(r.RemoteAddr)}
	if id := r.Header.Get("X-Request-ID"); len(id) <= maxRequestID {
		c.requestID = id
	}
	return r.WithContext(context.WithValue(r.Context(), httpCallKey{}, c))
}

// httpCallOf is the HTTP call behind ctx, or nil for a gRPC call.
func httpCallOf(ctx context.Context) *httpCall {
	c, _ := ctx.Value(httpCallKey{}).(*httpCall)
	return c
}

// interfaceName is the interface of an /v1/authorize call: REST when an
// HTTP route took it, else gRPC; AuthZEN's routes say so themselves.
func (c *httpCall) interfaceName() string {
	switch {
	case c == nil:
		return viaGRPC
	case c.via != "":
		return c.via
	default:
		return viaREST
	}
}

// peerAddr is the caller's network address: the gRPC peer, or the HTTP
// client.
func (c *httpCall) peerAddr(ctx context.Context) net.Addr {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr
	}
	if c != nil {
		return c.addr
	}
	return nil
}

// requestIDOr is the caller's request ID: the HTTP X-Request-ID header or
// gRPC x-request-id metadata.
func (c *httpCall) requestIDOr(ctx context.Context) string {
	if c != nil {
		return c.requestID
	}
	// ValueFromIncomingContext reads the key without copying the metadata.
	if ids := metadata.ValueFromIncomingContext(ctx, "x-request-id"); len(ids) > 0 && len(ids[0]) <= maxRequestID {
		return ids[0]
	}
	return ""
}

// withVia names the interface of the decisions a handler makes.
func withVia(via string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := httpCallOf(r.Context()); c != nil {
			c.via = via
		} else {
			r = withHTTPCall(r)
			httpCallOf(r.Context()).via = via
		}
		next.ServeHTTP(w, r)
	})
}

// maxRequestID bounds the request IDs grantd records.
const maxRequestID = 256

// requestID is the caller's request ID (httpCall.requestIDOr).
func requestID(ctx context.Context) string { return httpCallOf(ctx).requestIDOr(ctx) }
