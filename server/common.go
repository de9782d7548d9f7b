package server

import (
	"context"
	"encoding/base64"
	"log/slog"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/store"
)

// writer applies commands through raft, audited, with their latency
// recorded and an audit log line: what every service that changes the
// state needs, and no more.
type writer struct {
	store   *store.Store
	log     *slog.Logger
	metrics *metrics
	now     func() time.Time
}

// apply submits a write and records its latency. Every change but session
// bookkeeping goes into the audit log, in the same atomic write, and out
// as a log line.
func (d *writer) apply(ctx context.Context, cmd store.Command) (uint64, error) {
	actor := "system"
	if p := principalFrom(ctx); p != nil {
		actor = p.Subject().String()
	}
	return d.applyAs(ctx, actor, cmd)
}

// applyAs writes a command audited under the given actor.
func (d *writer) applyAs(ctx context.Context, actor string, cmd store.Command) (uint64, error) {
	start := time.Now()
	switch cmd.(type) {
	case store.CreateSession, store.DeleteSession, store.TouchSession:
		rev, err := d.store.Apply(ctx, cmd)
		d.metrics.observeWrite(err, time.Since(start))
		return rev, err
	}
	ev := store.Audited{Actor: actor, ClientAddr: clientAddr(ctx), Time: d.now(), Command: cmd}
	rev, err := d.store.Apply(ctx, ev)
	d.metrics.observeWrite(err, time.Since(start))
	if err == nil {
		action, object := store.Describe(cmd)
		d.log.InfoContext(ctx, "audit", "actor", ev.Actor, "action", action, "object", object,
			"client", ev.ClientAddr, "revision", rev)
	}
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

// pageRequest is what every paged list request carries.
type pageRequest interface {
	GetPageSize() int32
	GetPageToken() string
}

// listPage reads one page of a key-ordered listing: fetch returns up to size
// rows after a key, conv turns a row into its API form, and key names it.
func listPage[T, P any](req pageRequest, fetch func(after string, size int) ([]*T, error),
	conv func(*T) P, key func(*T) string) (items []P, next string, err error) {
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, "", err
	}
	after, err := decodePageToken(req.GetPageToken())
	if err != nil {
		return nil, "", err
	}
	rows, err := fetch(after, size)
	if err != nil {
		return nil, "", err
	}
	items = make([]P, len(rows))
	for i, r := range rows {
		items[i] = conv(r)
	}
	if len(rows) > 0 {
		next = nextPageToken(len(rows), size, key(rows[len(rows)-1]))
	}
	return items, next, nil
}

// filteredPage reads one page of a key-ordered listing that a filter
// thins out: it reads batches of rows after the page token until size
// rows have passed the filter or the rows run out. The next-page token
// is the key of the last row on a full page, never of a row read past
// it, so no row is skipped between pages.
func filteredPage[T any](after string, size int, fetch func(after string, n int) ([]*T, error),
	keep func(*T) bool, key func(*T) string) (page []*T, next string, err error) {
	for len(page) < size {
		batch, err := fetch(after, size)
		if err != nil {
			return nil, "", err
		}
		for _, row := range batch {
			if len(page) == size {
				break
			}
			after = key(row)
			if keep(row) {
				page = append(page, row)
			}
		}
		if len(batch) < size {
			break
		}
	}
	if len(page) == size {
		next = nextPageToken(size, size, key(page[size-1]))
	}
	return page, next, nil
}

// pageOf pages a listing that is read whole (small, per-org lists), in
// key order.
func pageOf[T, P any](req pageRequest, rows []*T, conv func(*T) P, key func(*T) string) ([]P, string, error) {
	rows = slices.Clone(rows)
	slices.SortFunc(rows, func(a, b *T) int { return strings.Compare(key(a), key(b)) })
	return listPage(req, func(after string, size int) ([]*T, error) {
		var out []*T
		for _, r := range rows {
			if after != "" && key(r) <= after {
				continue
			}
			if len(out) == size {
				break
			}
			out = append(out, r)
		}
		return out, nil
	}, conv, key)
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// decide is what the adapters ask: the engine's decision, unless this
// node's state is too stale to decide at all.
func (d *deps) decide(ctx context.Context, r authz.Request, via string) authz.Decision {
	if denial := d.fresh.denial(); denial != nil {
		d.decisions.denied(ctx, d.decisions.now(), r, *denial, via)
		return *denial
	}
	return d.decisions.decide(ctx, r, via)
}

// authService and authzService are the services' instances, also used by
// the HTTP handlers that speak other protocols (the console's login,
// AuthZEN).
func (d *deps) authService() *authService {
	return &authService{writer: d.writer, passwords: d.passwords}
}

func (d *deps) authzService() *authzService {
	return &authzService{store: d.store, engine: d.engine, decisions: d.decisions, now: d.now, maxRevisionWait: &d.maxRevisionWait, fresh: d.fresh}
}
