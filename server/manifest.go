package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"google.golang.org/grpc/status"

	"github.com/grantd/grantd/internal/randid"
	"github.com/grantd/grantd/manifest"
	"github.com/grantd/grantd/manifest/reconcile"
	"github.com/grantd/grantd/store"
)

// Access as code: GET manifest.ExportPath is the state as a manifest;
// POST manifest.ApplyPath plans a manifest (?dryRun=true) or applies it
// in one write (?prune=true removes what it owns and does not list). Both
// are for system admins.

// maxManifestBytes bounds a manifest: large enough for the
// enterprise-large reference dataset's export.
const maxManifestBytes = 256 << 20

func (s *Server) manifestRoutes(mux *http.ServeMux) {
	mux.Handle("GET "+manifest.ExportPath, s.requireAdmin(http.HandlerFunc(s.manifestExport)))
	mux.Handle("POST "+manifest.ApplyPath, s.requireAdmin(http.HandlerFunc(s.manifestApply)))
}

func (s *Server) manifestExport(w http.ResponseWriter, r *http.Request) {
	rd := s.store.Read()
	doc, err := reconcile.Export(rd)
	if err != nil {
		s.manifestError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Grantd-Revision", fmt.Sprint(rd.Revision()))
	_ = json.NewEncoder(w).Encode(doc)
}

func (s *Server) manifestApply(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxManifestBytes)
	var doc manifest.Document
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		writeHTTPError(w, http.StatusBadRequest, 3, "the manifest is not valid JSON of the manifest format: "+err.Error())
		return
	}
	q := r.URL.Query()
	rd := s.store.Read()
	plan, err := reconcile.Diff(rd, &doc, reconcile.Options{Prune: q.Get("prune") == "true", Now: s.now(), NewID: randid.New})
	if err != nil {
		writeHTTPError(w, http.StatusBadRequest, 3, err.Error())
		return
	}
	out := manifest.Result{Changes: plan.Changes, Revision: rd.Revision()}
	if out.Changes == nil {
		out.Changes = []manifest.Change{}
	}
	if q.Get("dryRun") != "true" && len(plan.Commands) > 0 {
		rev, err := s.applyPlan(r, plan)
		if err != nil {
			s.manifestError(w, r, err)
			return
		}
		out.Applied, out.Revision = true, rev
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// applyPlan writes a plan as one batch, each command audited under the
// caller: one write, one revision for all its audit events.
func (s *Server) applyPlan(r *http.Request, plan *reconcile.Plan) (uint64, error) {
	ctx := r.Context()
	actor := principalFrom(ctx).Subject().String()
	addr := clientAddr(ctx)
	at := s.now()
	batch := store.Batch{Commands: make([]store.Command, len(plan.Commands))}
	for i, c := range plan.Commands {
		batch.Commands[i] = store.Audited{Actor: actor, ClientAddr: addr, Time: at, Command: c}
	}
	start := time.Now()
	rev, err := s.store.Apply(ctx, batch)
	s.metrics.observeWrite(err, time.Since(start))
	if be := (*store.BatchError)(nil); errors.As(err, &be) {
		return 0, fmt.Errorf("%s: %w", plan.ChangeOf(be.Index), be.Err)
	}
	if err == nil {
		s.log.InfoContext(ctx, "audit", "actor", actor, "action", "manifest.apply", "object", "",
			"changes", len(plan.Changes), "commands", len(plan.Commands), "client", addr, "revision", rev)
	}
	return rev, err
}

func (s *Server) manifestError(w http.ResponseWriter, r *http.Request, err error) {
	st := status.Convert(toStatus(r.Context(), s.log, err))
	writeHTTPError(w, httpStatus(st.Code()), int(st.Code()), st.Message())
}
