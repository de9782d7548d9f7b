package server

import (
	"context"
	"runtime/debug"
	"time"

	"github.com/grantd/grantd/rights"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// intercept wraps every RPC, over gRPC and REST alike: it recovers panics,
// authenticates the caller, enforces the method's access class, validates
// the names in the request, maps errors, and records metrics.
func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			s.log.ErrorContext(ctx, "panic in handler", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
			resp, err = nil, status.Error(codes.Internal, "internal error")
		}
		s.metrics.observeRPC(info.FullMethod, status.Code(err), time.Since(start))
	}()
	ctx, err = s.admit(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	if err := checkBounds(info.FullMethod, req); err != nil {
		return nil, err
	}
	if err := validateRequest(req); err != nil {
		return nil, err
	}
	resp, err = handler(ctx, req)
	return resp, toStatus(ctx, s.log, err)
}

// admit authenticates the caller of a method and checks its access class.
func (s *Server) admit(ctx context.Context, method string) (context.Context, error) {
	class, ok := methodAccess[method]
	if !ok {
		s.log.ErrorContext(ctx, "refusing unclassified method", "method", method)
		return ctx, status.Error(codes.PermissionDenied, "method not available")
	}
	if class == accessPublic {
		return ctx, nil
	}
	p, err := s.deps.principals.Bearer(s.store, bearerToken(ctx), s.now())
	if err != nil {
		return ctx, status.Error(codes.Unauthenticated, err.Error())
	}
	if class == accessAdmin {
		if err := rights.RequireSystemAdmin(p); err != nil {
			return ctx, status.Error(codes.PermissionDenied, err.Error())
		}
	}
	ctx = withPrincipal(ctx, p)
	s.deps.touchSession(ctx, p)
	return ctx, nil
}
