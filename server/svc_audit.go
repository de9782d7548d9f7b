package server

import (
	"context"
	"strconv"
	"time"

	"github.com/grantd/grantd/store"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

type auditService struct {
	v1.UnimplementedAuditServiceServer
	store *store.Store
}

// ListAuditEvents lists the audit log newest first. The object filter is a
// prefix ("team:acme/" finds every team of acme); the page token is the ID
// of the last event returned.
func (s *auditService) ListAuditEvents(_ context.Context, req *v1.ListAuditEventsRequest) (*v1.ListAuditEventsResponse, error) {
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	var before uint64
	if tok := req.GetPageToken(); tok != "" {
		raw, err := decodePageToken(tok)
		if err != nil {
			return nil, err
		}
		if before, err = strconv.ParseUint(raw, 10, 64); err != nil || before == 0 {
			return nil, invalid("malformed page_token")
		}
	}
	events, err := s.store.Read().AuditEvents(req.GetActor(), req.GetObject(), before, size)
	if err != nil {
		return nil, err
	}
	out := &v1.ListAuditEventsResponse{}
	for _, e := range events {
		out.Events = append(out.Events, auditEventPB(e))
	}
	if len(events) > 0 {
		out.NextPageToken = nextPageToken(len(events), size, strconv.FormatUint(events[len(events)-1].ID, 10))
	}
	return out, nil
}

func auditEventPB(e *store.AuditEvent) *v1.AuditEvent {
	return &v1.AuditEvent{Id: e.ID, Time: e.Time.Format(time.RFC3339Nano), Actor: e.Actor, Action: e.Action,
		Object: e.Object, Before: string(e.Before), After: string(e.After), ClientAddr: e.ClientAddr, Revision: e.Revision}
}
