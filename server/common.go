package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"time"

	"github.com/grantd/grantd/store"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// apply submits a write and records its latency.
func (d *deps) apply(ctx context.Context, cmd store.Command) (uint64, error) {
	start := time.Now()
	rev, err := d.store.Apply(ctx, cmd)
	d.metrics.observeWrite(err, time.Since(start))
	return rev, err
}

// Paging: page_size defaults to 100 and is capped at 1000; page tokens are
// the opaque, URL-safe form of the last key returned.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

func pageSize(n int32) (int, error) {
	switch {
	case n < 0:
		return 0, invalid("page_size must not be negative")
	case n == 0:
		return defaultPageSize, nil
	case n > maxPageSize:
		return maxPageSize, nil
	}
	return int(n), nil
}

func decodePageToken(tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", invalid("malformed page_token")
	}
	return string(b), nil
}

// nextPageToken is empty when the page was not full.
func nextPageToken(n, size int, lastKey string) string {
	if n < size {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(lastKey))
}

// newID returns a random 128-bit identifier in hex.
func newID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// selfOrAdmin allows system admins, and users acting on their own account.
func selfOrAdmin(ctx context.Context, user string) error {
	p := principalFrom(ctx)
	if p == nil {
		return denied("authentication required")
	}
	if p.IsAdmin || p.Kind == "user" && p.Name == user {
		return nil
	}
	return denied("only system admins may act on other users")
}
