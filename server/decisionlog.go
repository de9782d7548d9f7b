package server

import (
	"context"
	"net/http"
	"time"

	"google.golang.org/grpc/metadata"

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
	// viaContext: the context says (viaOf), read only when the decision
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
	if via == viaContext {
		via = viaOf(ctx)
	}
	rec := decisionlog.Record{Time: start, Request: r, Decision: d, Grants: grants, Latency: time.Since(start),
		Interface: via, Address: peerAddr(ctx), RequestID: requestID(ctx)}
	if p := principalFrom(ctx); p != nil {
		rec.Caller = p.Subject()
	}
	return rec
}

// viaOf is the interface of an /v1/authorize call: REST when an HTTP
// route took it, else gRPC; AuthZEN's routes say so themselves.
func viaOf(ctx context.Context) string {
	if v, ok := ctx.Value(viaKey{}).(string); ok {
		return v
	}
	if _, ok := ctx.Value(remoteAddrKey{}).(tcpAddrString); ok {
		return viaREST
	}
	return viaGRPC
}

type viaKey struct{}

// withVia names the interface of the decisions a handler makes.
func withVia(via string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), viaKey{}, via)))
	})
}

// requestIDKey carries an HTTP request's X-Request-ID.
type requestIDKey struct{}

// maxRequestID bounds the request IDs grantd records.
const maxRequestID = 256

// withRequestIDContext keeps the request's X-Request-ID for the decision
// log.
func withRequestIDContext(r *http.Request) *http.Request {
	if id := r.Header.Get("X-Request-ID"); id != "" && len(id) <= maxRequestID {
		return r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
	}
	return r
}

// requestID is the caller's request ID: the HTTP X-Request-ID header or
// gRPC x-request-id metadata.
func requestID(ctx context.Context) string {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		return id
	}
	// ValueFromIncomingContext reads the key without copying the metadata.
	if ids := metadata.ValueFromIncomingContext(ctx, "x-request-id"); len(ids) > 0 && len(ids[0]) <= maxRequestID {
		return ids[0]
	}
	return ""
}
