package server

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/grantd/grantd/rights"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"

	"github.com/grantd/grantd/authz"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

type authzService struct {
	v1.UnimplementedAuthzServiceServer
	store     *store.Store
	engine    *authz.Engine
	decisions decisions
	now       func() time.Time
	fresh     freshness
	// maxRevisionWait, when set, replaces the default bound of a call's
	// minRevision wait (the server's, shared: tests shorten it).
	maxRevisionWait *time.Duration
}

// Limits of the decision API.
const (
	maxBatch = 1000
	// maxRevisionWait bounds how long a decision waits for minRevision.
	maxRevisionWait = 5 * time.Second
)

// request translates the wire request; a malformed resource is a denial,
// not an error, so it comes back as a decision.
func request(in *v1.AuthorizeRequest) (authz.Request, *authz.Decision) {
	res := in.GetResource()
	subject, err := subjectField("subject", in.GetSubject())
	if err != nil {
		return authz.Request{}, &authz.Decision{Code: authz.CodeUnknownSubject,
			Reason: fmt.Sprintf("subject %q is not a known user, service account or anonymous", in.GetSubject())}
	}
	r := authz.Request{Subject: subject, Operation: in.GetOperation(), Options: in.GetOptions(), Secrets: in.GetSecrets(),
		Collection: res.GetCollection(), Repository: res.GetRepository(), Labels: res.GetLabels()}
	set := 0
	for _, ok := range []bool{r.Collection != "", len(r.Labels) > 0, r.Repository != ""} {
		if ok {
			set++
		}
	}
	if set > 1 {
		return r, &authz.Decision{Code: authz.CodeMalformedRequest, Reason: "malformed request: name exactly one of collection, labels or repository"}
	}
	// No resource, or empty labels: an unlabeled resource.
	r.HasLabels = set == 0 || len(r.Labels) > 0
	return r, nil
}

// revisionDeadlineKey carries one call's deadline for minRevision waits,
// so that a batch waits at most maxRevisionWait in all, not per request.
type revisionDeadlineKey struct{}

// withRevisionDeadline starts the call's minRevision deadline.
func (s *authzService) withRevisionDeadline(ctx context.Context) context.Context {
	return context.WithValue(ctx, revisionDeadlineKey{}, s.now().Add(s.revisionWait()))
}

func (s *authzService) revisionWait() time.Duration {
	if *s.maxRevisionWait > 0 {
		return *s.maxRevisionWait
	}
	return maxRevisionWait
}

// waitFor blocks until the state includes minRevision, until the call's
// deadline at most; it reports a denial when it cannot.
func (s *authzService) waitFor(ctx context.Context, minRevision uint64) *authz.Decision {
	if minRevision == 0 {
		return nil
	}
	deadline, ok := ctx.Value(revisionDeadlineKey{}).(time.Time)
	if !ok {
		deadline = s.now().Add(s.revisionWait())
	}
	wctx, cancel := context.WithTimeout(ctx, deadline.Sub(s.now()))
	defer cancel()
	if err := s.store.WaitForRevision(wctx, minRevision); err != nil {
		return &authz.Decision{Code: authz.CodeRevisionUnavailable, Revision: s.store.Revision(),
			Reason: fmt.Sprintf("denied: the state has not reached revision %d (it is at %d)", minRevision, s.store.Revision())}
	}
	return nil
}

// readIndex makes a linearizable request wait until this node has every
// write acknowledged before it; it reports a denial when it cannot.
func (s *authzService) readIndex(ctx context.Context, linearizable bool) *authz.Decision {
	if !linearizable {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, s.revisionWait())
	defer cancel()
	if err := s.store.ReadIndex(wctx); err != nil {
		return &authz.Decision{Code: authz.CodeRevisionUnavailable, Revision: s.store.Revision(),
			Reason: fmt.Sprintf("denied: a linearizable decision needs the cluster's leader: %v", err)}
	}
	return nil
}

func (s *authzService) decide(ctx context.Context, in *v1.AuthorizeRequest) (*v1.AuthorizeResponse, error) {
	if err := mayAsk(ctx, in.GetSubject()); err != nil {
		return nil, err
	}
	start := s.decisions.now()
	r, malformed := request(in)
	bad := s.waitFor(ctx, in.GetMinRevision())
	if bad == nil {
		bad = s.readIndex(ctx, in.GetLinearizable())
	}
	if bad == nil {
		bad = s.fresh.denial()
	}
	if bad == nil && malformed != nil {
		bad = malformed
		bad.Revision = s.store.Revision()
	}
	if bad != nil {
		s.decisions.denied(ctx, start, r, *bad, viaContext)
		return decisionPB(*bad), nil
	}
	return decisionPB(s.decisions.decide(ctx, r, viaContext)), nil
}

// mayAsk applies rights.MayAsk to the subject a request names. A subject
// that does not parse is nobody the caller is, so only those who may ask
// about anyone get past (and then learn that it is unknown).
func mayAsk(ctx context.Context, subject string) error {
	s, err := subjectField("subject", subject)
	if err != nil {
		s = subjects.Subject{}
	}
	return rights.MayAsk(principalFrom(ctx), s)
}

func decisionPB(d authz.Decision) *v1.AuthorizeResponse {
	return &v1.AuthorizeResponse{Allowed: d.Allowed, Reason: d.Reason, Revision: d.Revision, SchedulableCollections: d.Schedulable}
}

func (s *authzService) Authorize(ctx context.Context, in *v1.AuthorizeRequest) (*v1.AuthorizeResponse, error) {
	return s.decide(ctx, in)
}

func (s *authzService) AuthorizeBatch(ctx context.Context, in *v1.AuthorizeBatchRequest) (*v1.AuthorizeBatchResponse, error) {
	if len(in.GetRequests()) > maxBatch {
		return nil, invalid("at most %d requests per batch", maxBatch)
	}
	reqs := in.GetRequests()
	ctx = s.withRevisionDeadline(ctx)
	out := &v1.AuthorizeBatchResponse{Decisions: make([]*v1.AuthorizeResponse, len(reqs))}
	// The requests are independent: a batch is decided on every core, in
	// strides, and the answers keep the requests' order.
	workers := min(runtime.GOMAXPROCS(0), (len(reqs)+batchStride-1)/batchStride)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(reqs); i += workers {
				d, err := s.decide(ctx, reqs[i])
				if err != nil {
					errs[w] = fmt.Errorf("request %d: %w", i, err)
					return
				}
				out.Decisions[i] = d
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// batchStride is the smallest share of a batch worth a goroutine of its own.
const batchStride = 8

func (s *authzService) Explain(ctx context.Context, in *v1.AuthorizeRequest) (*v1.ExplainResponse, error) {
	if err := mayAsk(ctx, in.GetSubject()); err != nil {
		return nil, err
	}
	if d := s.waitFor(ctx, in.GetMinRevision()); d != nil {
		return &v1.ExplainResponse{Reason: d.Reason, Revision: d.Revision}, nil
	}
	if d := s.readIndex(ctx, in.GetLinearizable()); d != nil {
		return &v1.ExplainResponse{Reason: d.Reason, Revision: d.Revision}, nil
	}
	if d := s.fresh.denial(); d != nil {
		return &v1.ExplainResponse{Reason: d.Reason, Revision: d.Revision}, nil
	}
	r, bad := request(in)
	if bad != nil {
		return &v1.ExplainResponse{Reason: bad.Reason, Revision: s.store.Revision()}, nil
	}
	x := s.engine.Explain(ctx, r)
	out := &v1.ExplainResponse{Allowed: x.Allowed, Reason: x.Reason, Revision: x.Revision,
		SchedulableCollections: x.Schedulable, MissingOperation: x.MissingOperation, MissingOptions: x.MissingOptions}
	switch x.Code {
	case authz.CodeAdmin, authz.CodeOwner, authz.CodePublic:
		out.AllowedBy = string(x.Code)
	}
	for _, c := range x.Grants {
		out.Grants = append(out.Grants, contributionPB(c))
	}
	return out, nil
}

func contributionPB(c authz.Contribution) *v1.Contribution {
	return &v1.Contribution{GrantId: c.GrantID, SubjectPath: c.SubjectPath, Role: c.Role, Object: c.Object.String(), Scope: c.Scope}
}

func (s *authzService) GetEffectivePermissions(ctx context.Context, in *v1.GetEffectivePermissionsRequest) (*v1.GetEffectivePermissionsResponse, error) {
	if err := mayAsk(ctx, in.GetSubject()); err != nil {
		return nil, err
	}
	path, err := collectionPath(in.GetCollection())
	if err != nil {
		return nil, err
	}
	if d := s.waitFor(ctx, in.GetMinRevision()); d != nil {
		return nil, unavailable("%s", d.Reason)
	}
	subject, err := subjectField("subject", in.GetSubject())
	if err != nil {
		return nil, err
	}
	if d := s.fresh.denial(); d != nil {
		return nil, unavailable("%s", d.Reason)
	}
	p := s.engine.EffectivePermissions(ctx, subject, path)
	switch p.Decision.Code {
	case authz.CodeAdmin, authz.CodeGranted, authz.CodeMissingOperation:
	case authz.CodeInternalError:
		return nil, errors.New(p.Decision.Reason)
	default:
		return nil, invalid("%s", p.Decision.Reason)
	}
	out := &v1.GetEffectivePermissionsResponse{Subject: in.GetSubject(), Collection: path, Revision: p.Decision.Revision, IsAdmin: p.IsAdmin}
	for _, perm := range p.Permissions {
		ep := &v1.EffectivePermission{Operation: perm.Operation, Options: perm.Options}
		for _, c := range perm.Sources {
			ep.Sources = append(ep.Sources, contributionPB(c))
		}
		out.Permissions = append(out.Permissions, ep)
	}
	return out, nil
}

func (s *authzService) ListAccess(ctx context.Context, in *v1.ListAccessRequest) (*v1.ListAccessResponse, error) {
	size, err := pageSize(in.GetPageSize())
	if err != nil {
		return nil, err
	}
	after, err := decodePageToken(in.GetPageToken())
	if err != nil {
		return nil, err
	}
	if d := s.waitFor(ctx, in.GetMinRevision()); d != nil {
		return nil, unavailable("%s", d.Reason)
	}
	object, err := objectField("object", in.GetObject())
	if err != nil {
		return nil, err
	}
	r := s.store.Read()
	entries, err := authz.WhoCan(r, object, in.GetOperation(), in.GetOptions())
	switch {
	case errors.Is(err, authz.ErrNotFound):
		return nil, notFound("%v", err)
	case err != nil:
		return nil, invalid("%v", err)
	}
	out := &v1.ListAccessResponse{Revision: r.Revision()}
	for _, e := range entries {
		if e.Subject.String() <= after {
			continue
		}
		if len(out.Entries) == size {
			out.NextPageToken = nextPageToken(size, size, out.Entries[size-1].User)
			break
		}
		entry := &v1.AccessEntry{User: e.Subject.String(), IsAdmin: e.Via == "admin"}
		for _, c := range e.Grants {
			entry.Grants = append(entry.Grants, contributionPB(c))
		}
		out.Entries = append(out.Entries, entry)
	}
	return out, nil
}

type policyService struct {
	v1.UnimplementedPolicyServiceServer
	engine *authz.Engine
}

func (s *policyService) ExportPolicy(ctx context.Context, _ *v1.ExportPolicyRequest) (*v1.ExportPolicyResponse, error) {
	b, rev, err := s.engine.ExportBundle(ctx)
	if err != nil {
		return nil, err
	}
	return &v1.ExportPolicyResponse{Bundle: b, Entrypoint: "data." + dotted(authz.Entrypoint), Revision: rev}, nil
}

func dotted(p string) string {
	out := []byte(p)
	for i, c := range out {
		if c == '/' {
			out[i] = '.'
		}
	}
	return string(out)
}
