package server

import (
	"bytes"
	"errors"
	"io"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

// authorizeREST answers POST /v1/authorize, the REST call that proxies
// and scripts make for every decision, the way the gateway's route does
// (the same decoder, the in-process call through the interceptor, the
// same response and error writers) without the gateway's plumbing around
// it: its route matching, the context values it annotates, and the
// metadata it builds from the request only to have it copied again in
// process. Authorization is the one header the call reads, and it passes
// on the values the gateway would. A request that asks the gateway for
// something more (a gRPC timeout, a method override) goes to the gateway.
// TestAuthorizeRESTAnswersAsTheGateway holds the two to the same bytes.
// With the gateway's JSON (jsonpb), the plain request and its answer are
// read and written by hand (restcodec.go).
func authorizeREST(gw *runtime.ServeMux, jsonpb *runtime.JSONPb, conn *inprocConn) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Grpc-Timeout") != "" || r.Header.Get("X-HTTP-Method-Override") != "" {
			gw.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		in, out := runtime.MarshalerForRequest(gw, r)
		var req v1.AuthorizeRequest
		// The body is bounded (limitBody); a read that fails leaves the
		// gateway's decoder what it would have read, then the same error.
		body, buf, readErr := readBody(r.Body)
		defer putBody(buf)
		if readErr != nil || in != runtime.Marshaler(jsonpb) || !decodeAuthorize(body, &req) {
			req.Reset()
			if err := in.NewDecoder(io.MultiReader(bytes.NewReader(body), r.Body)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
				runtime.HTTPError(ctx, gw, out, w, r, status.Errorf(codes.InvalidArgument, "%v", err))
				return
			}
			_, _ = io.Copy(io.Discard, r.Body)
		}
		var auth []string
		for _, v := range r.Header.Values("Authorization") {
			if metadataText(v) {
				auth = append(auth, v)
			}
		}
		call := ctx
		if len(auth) > 0 {
			call = metadata.NewOutgoingContext(ctx, metadata.MD{"authorization": auth})
		}
		var md runtime.ServerMetadata
		resp := new(v1.AuthorizeResponse)
		err := conn.Invoke(call, v1.AuthzService_Authorize_FullMethodName, &req, resp, grpc.Header(&md.HeaderMD), grpc.Trailer(&md.TrailerMD))
		ctx = runtime.NewServerMetadataContext(ctx, md)
		if err != nil {
			runtime.HTTPError(ctx, gw, out, w, r, err)
			return
		}
		if out == runtime.Marshaler(jsonpb) {
			out = authorizeJSON{out}
		}
		runtime.ForwardResponseMessage(ctx, gw, out, w, r, resp, gw.GetForwardResponseOptions()...)
	})
}

// metadataText reports whether v may be a gRPC metadata value: printable
// ASCII, as the gateway requires of a header it passes on.
func metadataText(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}
