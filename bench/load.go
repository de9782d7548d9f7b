package main

import (
	"context"
	"fmt"
	"time"

	"github.com/grantd/grantd/subjects"

	"google.golang.org/grpc/metadata"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/bench/loadgen"
	"github.com/grantd/grantd/dataset"
	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

func grpcBearer(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

func wireRequest(q dataset.Query) *v1.AuthorizeRequest {
	r := &v1.AuthorizeRequest{Subject: q.Subject.String(), Operation: q.Operation, Options: q.Options, Resource: &v1.Resource{}}
	if q.Repository != "" {
		r.Resource.Repository = q.Repository
	} else {
		r.Resource.Collection = q.Collection
	}
	return r
}

// grpcCaller asks one question per Authorize call.
func grpcCaller(p *process, qs []dataset.Query) loadgen.Caller {
	client := v1.NewAuthzServiceClient(p.conn)
	reqs := make([]*v1.AuthorizeRequest, len(qs))
	for i, q := range qs {
		reqs[i] = wireRequest(q)
	}
	return func(ctx context.Context, i int, allowed []bool) error {
		resp, err := client.Authorize(p.auth(ctx), reqs[i])
		if err != nil {
			return err
		}
		allowed[0] = resp.GetAllowed()
		return nil
	}
}

// batchCaller asks len(allowed) questions per AuthorizeBatch call.
func batchCaller(p *process, qs []dataset.Query, n int) loadgen.Caller {
	client := v1.NewAuthzServiceClient(p.conn)
	reqs := make([]*v1.AuthorizeRequest, len(qs))
	for i, q := range qs {
		reqs[i] = wireRequest(q)
	}
	return func(ctx context.Context, i int, allowed []bool) error {
		resp, err := client.AuthorizeBatch(p.auth(ctx), &v1.AuthorizeBatchRequest{Requests: reqs[i : i+n]})
		if err != nil {
			return err
		}
		if len(resp.GetDecisions()) != n {
			return fmt.Errorf("batch of %d answered with %d decisions", n, len(resp.GetDecisions()))
		}
		for j, d := range resp.GetDecisions() {
			allowed[j] = d.GetAllowed()
		}
		return nil
	}
}

// restCaller asks one question per POST /v1/authorize.
func restCaller(p *process, qs []dataset.Query) loadgen.Caller {
	type resource struct {
		Collection string `json:"collection,omitempty"`
		Repository string `json:"repository,omitempty"`
	}
	type body struct {
		Subject   string   `json:"subject"`
		Operation string   `json:"operation"`
		Resource  resource `json:"resource"`
	}
	return func(ctx context.Context, i int, allowed []bool) error {
		q := qs[i]
		var out struct{ Allowed bool }
		if err := p.rest(ctx, "/v1/authorize", body{q.Subject.String(), q.Operation, resource{q.Collection, q.Repository}}, &out); err != nil {
			return err
		}
		allowed[0] = out.Allowed
		return nil
	}
}

// engineCaller decides in-process with the authz package.
func engineCaller(e *authz.Engine, qs []dataset.Query) loadgen.Caller {
	return func(ctx context.Context, i int, allowed []bool) error {
		q := qs[i]
		d := e.Decide(ctx, authz.Request{Subject: q.Subject, Operation: q.Operation, Collection: q.Collection,
			Repository: q.Repository, Options: q.Options})
		if d.Code == authz.CodeInternalError {
			return fmt.Errorf("%s", d.Reason)
		}
		allowed[0] = d.Allowed
		return nil
	}
}

// writeToVisible measures n grant writes over gRPC from the call until an
// Authorize of the newly granted operation allows, fsync included (the
// write returns once committed and applied).
func writeToVisible(ctx context.Context, p *process, users []string, n int) ([]time.Duration, error) {
	grants := v1.NewGrantServiceClient(p.conn)
	cols := v1.NewCollectionServiceClient(p.conn)
	authz := v1.NewAuthzServiceClient(p.conn)
	var lat []time.Duration
	for i := range n {
		col := fmt.Sprintf("/c0/visible%d", i)
		if _, err := cols.CreateCollection(p.auth(ctx), &v1.CreateCollectionRequest{Path: col}); err != nil {
			return nil, fmt.Errorf("create %s: %w", col, err)
		}
		subject := subjects.OfUser(users[i%len(users)]).String()
		ask := &v1.AuthorizeRequest{Subject: subject, Operation: "container.exec", Resource: &v1.Resource{Collection: col}}
		start := time.Now()
		if _, err := grants.CreateGrant(p.auth(ctx), &v1.CreateGrantRequest{Subject: subject, Role: "fullcontrol",
			Object: subjects.CollectionOf(col).String()}); err != nil {
			return nil, fmt.Errorf("grant on %s: %w", col, err)
		}
		for {
			d, err := authz.Authorize(p.auth(ctx), ask)
			if err != nil {
				return nil, err
			}
			if d.GetAllowed() {
				break
			}
			if time.Since(start) > 10*time.Second {
				return nil, fmt.Errorf("the grant on %s was not visible after 10 s", col)
			}
		}
		lat = append(lat, time.Since(start))
	}
	return lat, nil
}
