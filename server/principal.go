package server

import (
	"context"
	"strings"

	"google.golang.org/grpc/metadata"

	"github.com/grantd/grantd/authn"
)

// Principal is an authenticated caller (authn owns what one is).
type Principal = authn.Principal

type principalKey struct{}

func withPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// principalFrom returns the authenticated caller, or nil on public methods.
func principalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// bearerToken reads "authorization: Bearer <token>" from incoming metadata.
func bearerToken(ctx context.Context) string {
	// ValueFromIncomingContext copies the one key; FromIncomingContext
	// would copy all of the call's metadata.
	for _, v := range metadata.ValueFromIncomingContext(ctx, "authorization") {
		if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
			return strings.TrimSpace(v[7:])
		}
	}
	return ""
}
