package server

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grantd/grantd/rights"
	"github.com/grantd/grantd/store"
)

// toStatus maps a domain error to a gRPC status. Typed domain errors carry
// messages written for the caller; anything else is logged with its cause
// and reaches the caller only as "internal error".
func toStatus(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var code codes.Code
	switch {
	case errors.Is(err, store.ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, store.ErrAlreadyExists):
		code = codes.AlreadyExists
	case errors.Is(err, store.ErrConflict):
		code = codes.Aborted
	case errors.Is(err, store.ErrFailedPrecondition):
		code = codes.FailedPrecondition
	case errors.Is(err, store.ErrInvalid), errors.Is(err, rights.ErrInvalid):
		code = codes.InvalidArgument
	case errors.Is(err, rights.ErrDenied):
		code = codes.PermissionDenied
	case errors.Is(err, store.ErrNotReady):
		log.WarnContext(ctx, "store not ready", "err", err)
		return status.Error(codes.Unavailable, "the store is not ready; retry")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "canceled")
	default:
		log.ErrorContext(ctx, "internal error", "err", err)
		return status.Error(codes.Internal, "internal error")
	}
	return status.Error(code, err.Error())
}

func invalid(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}

func denied(format string, args ...any) error {
	return status.Errorf(codes.PermissionDenied, format, args...)
}

func notFound(format string, args ...any) error {
	return status.Errorf(codes.NotFound, format, args...)
}

func unavailable(format string, args ...any) error {
	return status.Errorf(codes.Unavailable, format, args...)
}
