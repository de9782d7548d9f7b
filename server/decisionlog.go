package server

import (
	"context"
	"time"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/decisionlog"
)

// decisions asks the engine and records every decision in the decision
// log, when one is configured (a nil log records nothing).
type decisions struct {
	engine *authz.Engine
	log    *decisionlog.Logger
}

// Interfaces a decision can come through, as the decision log names them.
const (
	viaGRPC       = "grpc"
	viaREST       = "rest"
	viaPlugin     = "docker-plugin"
	viaRegistry   = "registry"
	viaKubernetes = "kubernetes"
	viaAuthZEN    = "authzen"
	// viaContext: the context says (callFacts.interfaceName), read only
	// when the decision is logged.
	viaContext = ""
)

// now is when a decision starts, for the log; nothing is read from the
// clock when there is no log.
func (ds decisions) now() time.Time {
	if ds.log == nil {
		return time.Time{}
	}
	return time.Now()
}

// decide answers r with the engine. The sampling draw comes first, so
// the grants behind an allowed decision are looked up only when it is
// kept; denials are always kept.
func (ds decisions) decide(ctx context.Context, r authz.Request, via string) authz.Decision {
	if ds.log == nil {
		return ds.engine.Decide(ctx, r)
	}
	start := time.Now()
	keep := ds.log.SampleAllowed()
	a := ds.engine.DecideWithGrants(ctx, r, start, keep)
	if keep || !a.Allowed {
		ds.log.Log(record(ctx, start, r, a, via))
	}
	return a.Decision
}

// denied records a denial made without the engine: a stale node, a
// malformed request, a revision that did not arrive in time.
func (ds decisions) denied(ctx context.Context, start time.Time, r authz.Request, d authz.Decision, via string) {
	if ds.log != nil {
		ds.log.Log(record(ctx, start, r, authz.Decided{Decision: d, Took: time.Since(start)}, via))
	}
}

// record is what the log keeps of a decision that started at start.
func record(ctx context.Context, start time.Time, r authz.Request, a authz.Decided, via string) decisionlog.Record {
	call := callFactsOf(ctx) // one walk up the context for the facts an HTTP route or the gRPC tap keeps
	if via == viaContext {
		via = call.interfaceName()
	}
	rec := decisionlog.Record{Time: start, Request: r, Decision: a.Decision, Grants: a.Grants, Latency: a.Took, Memo: a.Memo,
		Interface: via, Address: call.peerAddr(ctx), RequestID: call.sentRequestID()}
	if p := principalFrom(ctx); p != nil {
		rec.Caller = p.Subject()
	}
	return rec
}
