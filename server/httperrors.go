package server

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// httpStatus maps gRPC codes to HTTP as grpc-gateway does, except that a
// failed precondition is 412 (api.md) rather than 400.
func httpStatus(c codes.Code) int {
	if c == codes.FailedPrecondition {
		return http.StatusPreconditionFailed
	}
	return runtime.HTTPStatusFromCode(c)
}

// writeError is the gateway's error handler: a JSON body with code and message.
func writeError(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	st := status.Convert(err)
	if st.Code() == codes.Unauthenticated {
		w.Header().Set("WWW-Authenticate", `Bearer realm="grantd"`)
	}
	writeHTTPError(w, httpStatus(st.Code()), int(st.Code()), st.Message())
}

func routingError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	switch httpStatus {
	case http.StatusMethodNotAllowed:
		writeHTTPError(w, httpStatus, int(codes.Unimplemented), "method not allowed")
	default:
		writeHTTPError(w, http.StatusNotFound, int(codes.NotFound), "no such endpoint")
	}
}

func writeHTTPError(w http.ResponseWriter, httpCode, grpcCode int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpCode)
	_ = json.NewEncoder(w).Encode(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{grpcCode, msg})
}
