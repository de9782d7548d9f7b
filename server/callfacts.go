package server

import (
	"context"
	"net"
	"net/http"

	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/tap"
)

// What grantd knows of a caller beyond its credentials: its network
// address, its request ID and the interface it came through, for the audit
// log, login throttling, the decision log and AuthZEN's echo.

// callFacts is what the HTTP routes keep about a call for the decisions it
// leads to: the client's address, its X-Request-ID (bounded) and, for the
// routes that say so, the interface. A gRPC call that sends a request ID
// has them too (tapCallFacts).
type callFacts struct {
	addr      tcpAddrString
	requestID string
	via       string
}

type callFactsKey struct{}

// withHTTPCall keeps what the decision log and the audit log want to know
// about an HTTP request.
func withHTTPCall(r *http.Request) *http.Request {
	c := &callFacts{addr: tcpAddrString(r.RemoteAddr)}
	if id := r.Header.Get("X-Request-ID"); len(id) <= maxRequestID {
		c.requestID = id
	}
	return r.WithContext(context.WithValue(r.Context(), callFactsKey{}, c))
}

// tapCallFacts keeps a gRPC call's request ID as the transport takes its
// headers (grpc.InTapHandle), read from the header map directly; a call
// without one gets nothing, and allocates nothing. So every call that
// sent a request ID has facts that hold it, and reading it never asks the
// metadata: looking up a key that is absent, as x-request-id usually is,
// costs metadata.ValueFromIncomingContext a case-insensitive comparison
// with every key of the call (0.65 % of grantd's CPU for cached decisions
// with the decision log on).
func tapCallFacts(ctx context.Context, info *tap.Info) (context.Context, error) {
	ids := info.Header["x-request-id"]
	if len(ids) == 0 || len(ids[0]) > maxRequestID {
		return ctx, nil
	}
	return context.WithValue(ctx, callFactsKey{}, &callFacts{via: viaGRPC, requestID: ids[0]}), nil
}

// callFactsOf is the facts of the call behind ctx: an HTTP call's, or a
// gRPC call's that sent a request ID; else nil.
func callFactsOf(ctx context.Context) *callFacts {
	c, _ := ctx.Value(callFactsKey{}).(*callFacts)
	return c
}

// interfaceName is the interface of an /v1/authorize call: REST when an
// HTTP route took it, else gRPC; gRPC's and AuthZEN's facts say so
// themselves.
func (c *callFacts) interfaceName() string {
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
// client. (A gRPC call's facts hold no address.)
func (c *callFacts) peerAddr(ctx context.Context) net.Addr {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr
	}
	if c != nil {
		return c.addr
	}
	return nil
}

// sentRequestID is the request ID the caller sent (bounded): an HTTP
// call's X-Request-ID, a gRPC call's x-request-id (tapCallFacts); "" when
// it sent none.
func (c *callFacts) sentRequestID() string {
	if c == nil {
		return ""
	}
	return c.requestID
}

// withVia names the interface of the decisions a handler makes.
func withVia(via string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := callFactsOf(r.Context()); c != nil {
			c.via = via
		} else {
			r = withHTTPCall(r)
			callFactsOf(r.Context()).via = via
		}
		next.ServeHTTP(w, r)
	})
}

// maxRequestID bounds the request IDs grantd records.
const maxRequestID = 256

// requestID is the request ID the caller sent (callFacts.sentRequestID).
func requestID(ctx context.Context) string { return callFactsOf(ctx).sentRequestID() }

// clientAddr is the caller's network address, when known.
func clientAddr(ctx context.Context) string {
	if a := callFactsOf(ctx).peerAddr(ctx); a != nil {
		return a.String()
	}
	return ""
}

// tcpAddrString is an HTTP client's address (http.Request.RemoteAddr) as a
// net.Addr.
type tcpAddrString string

func (a tcpAddrString) Network() string { return "tcp" }
func (a tcpAddrString) String() string  { return string(a) }
