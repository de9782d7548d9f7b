package server

import (
	"context"
	"net"
	"net/http"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// What grantd knows of a caller beyond its credentials: its network
// address, its request ID and the interface it came through, for the audit
// log, login throttling, the decision log and AuthZEN's echo.

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

// clientAddr is the caller's network address, when known.
func clientAddr(ctx context.Context) string {
	if a := httpCallOf(ctx).peerAddr(ctx); a != nil {
		return a.String()
	}
	return ""
}

// tcpAddrString is an HTTP client's address (http.Request.RemoteAddr) as a
// net.Addr.
type tcpAddrString string

func (a tcpAddrString) Network() string { return "tcp" }
func (a tcpAddrString) String() string  { return string(a) }
