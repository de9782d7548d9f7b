package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"

	"github.com/grantd/grantd/adapters/authzen"
	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/rights"
	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/subjects"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

// The OpenID AuthZEN Authorization API 1.0 on grantd's port: access
// evaluation (one and a batch), the three searches, and the metadata
// document. Callers authenticate like the REST API's (a bearer token);
// what they may ask is what POST /v1/authorize lets them ask (about
// themselves, or about anyone with the authorize capability), and the
// subject search is who-can, for system admins.
const (
	authzenEvaluation  = "/access/v1/evaluation"
	authzenEvaluations = "/access/v1/evaluations"
	authzenSubjects    = "/access/v1/search/subject"
	authzenResources   = "/access/v1/search/resource"
	authzenActions     = "/access/v1/search/action"
	authzenMetadata    = "/.well-known/authzen-configuration"
)

func (s *Server) authzenRoutes(mux *http.ServeMux) {
	auth := func(h http.HandlerFunc) http.Handler {
		return s.limitBody(s.requireAuth(withVia(viaAuthZEN, withRequestID(h))))
	}
	mux.Handle("POST "+authzenEvaluation, auth(s.authzenEvaluation))
	mux.Handle("POST "+authzenEvaluations, auth(s.authzenEvaluations))
	mux.Handle("POST "+authzenSubjects, auth(s.authzenSubjectSearch))
	mux.Handle("POST "+authzenResources, auth(s.authzenResourceSearch))
	mux.Handle("POST "+authzenActions, auth(s.authzenActionSearch))
	mux.HandleFunc("GET "+authzenMetadata, s.authzenConfiguration)
}

// withRequestID echoes X-Request-ID, as AuthZEN asks of a PDP.
func withRequestID(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if id := requestID(r.Context()); id != "" { // the routes kept it, bounded
			w.Header().Set("X-Request-ID", id)
		}
		next(w, r)
	}
}

func (s *Server) authzenConfiguration(w http.ResponseWriter, r *http.Request) {
	base := "https://" + r.Host
	if s.cfg.Insecure {
		base = "http://" + r.Host
	}
	writeAuthzen(w, http.StatusOK, map[string]string{
		"policy_decision_point":       base,
		"access_evaluation_endpoint":  base + authzenEvaluation,
		"access_evaluations_endpoint": base + authzenEvaluations,
		"search_subject_endpoint":     base + authzenSubjects,
		"search_resource_endpoint":    base + authzenResources,
		"search_action_endpoint":      base + authzenActions,
	})
}

func writeAuthzen(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// authzenError answers a failed request: 400 for a malformed one, 403
// for a question the caller may not ask.
func (s *Server) authzenError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, authzen.ErrBadRequest):
		code = http.StatusBadRequest
	case errors.Is(err, rights.ErrDenied):
		code = http.StatusForbidden
	default:
		s.log.Error("AuthZEN", "err", err)
		err = errors.New("internal error")
	}
	writeAuthzen(w, code, map[string]string{"error": err.Error()})
}

func readJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return errors.Join(authzen.ErrBadRequest, err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errors.Join(authzen.ErrBadRequest, err)
	}
	return nil
}

// evaluate decides one AuthZEN evaluation exactly as POST /v1/authorize
// decides the same question: through its handler, or, for a Kubernetes
// namespace (which /v1/authorize does not name), the engine behind it.
func (s *Server) evaluate(ctx context.Context, e authzen.Evaluation) (authzen.Answer, error) {
	r, err := authzen.Request(e)
	if err != nil {
		return authzen.Answer{}, err
	}
	if err := rights.MayAsk(principalFrom(ctx), r.Subject); err != nil {
		return authzen.Answer{}, err
	}
	if r.Kubernetes {
		return authzen.AnswerOf(s.deps.decide(ctx, r, viaAuthZEN)), nil
	}
	in := &v1.AuthorizeRequest{Subject: r.Subject.String(), Operation: r.Operation, Options: r.Options, Secrets: r.Secrets,
		Resource: &v1.Resource{Collection: r.Collection, Repository: r.Repository, Labels: r.Labels}}
	out, err := s.deps.authzService().decide(ctx, in)
	if err != nil {
		return authzen.Answer{}, err
	}
	return authzen.AnswerOf(authz.Decision{Allowed: out.GetAllowed(), Reason: out.GetReason(), Revision: out.GetRevision()}), nil
}

func (s *Server) authzenEvaluation(w http.ResponseWriter, r *http.Request) {
	var e authzen.Evaluation
	if err := readJSON(r, &e); err != nil {
		s.authzenError(w, err)
		return
	}
	a, err := s.evaluate(r.Context(), e)
	if err != nil {
		s.authzenError(w, err)
		return
	}
	writeAuthzen(w, http.StatusOK, a)
}

func (s *Server) authzenEvaluations(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.authzenError(w, errors.Join(authzen.ErrBadRequest, err))
		return
	}
	b, err := authzen.ParseEvaluations(body)
	if err != nil {
		s.authzenError(w, err)
		return
	}
	if len(b.Evaluations) == 0 {
		// Without items the request is a single evaluation (§7).
		a, err := s.evaluate(r.Context(), b.Evaluation)
		if err != nil {
			s.authzenError(w, err)
			return
		}
		writeAuthzen(w, http.StatusOK, a)
		return
	}
	out := struct {
		Evaluations []authzen.Answer `json:"evaluations"`
	}{Evaluations: []authzen.Answer{}}
	for _, item := range b.Evaluations {
		a, err := s.evaluate(r.Context(), authzen.Merge(b.Evaluation, item))
		if err != nil {
			// One bad item is that item's denial, with the reason.
			a = authzen.Answer{Context: authzen.AnswerContext{Reason: map[string]string{"en": err.Error()}}}
		}
		out.Evaluations = append(out.Evaluations, a)
		if authzen.Stops(b.Options.Semantic, a) {
			break
		}
	}
	writeAuthzen(w, http.StatusOK, out)
}

// searchRequest is a search: the entities the caller fixes, and a page.
type searchRequest struct {
	authzen.Evaluation
	Page struct {
		Token     string `json:"token"`
		NextToken string `json:"next_token"`
		Limit     int    `json:"limit"`
	} `json:"page"`
}

func (q searchRequest) page() (after string, limit int) {
	after = q.Page.Token
	if after == "" {
		after = q.Page.NextToken
	}
	limit = q.Page.Limit
	if limit <= 0 {
		limit = 50
	}
	return after, min(limit, maxPageSize)
}

type searchPage struct {
	NextToken string `json:"next_token"`
}

// authzenSubjectSearch is who-can: the users (and system admins) who may
// perform the action on the resource (system admins only, like GET /v1/access).
func (s *Server) authzenSubjectSearch(w http.ResponseWriter, r *http.Request) {
	var q searchRequest
	if err := readJSON(r, &q); err != nil {
		s.authzenError(w, err)
		return
	}
	if err := rights.RequireSystemAdmin(principalFrom(r.Context())); err != nil {
		s.authzenError(w, err)
		return
	}
	if q.Subject != nil && q.Subject.Type != "user" {
		s.authzenError(w, errors.Join(authzen.ErrBadRequest, errors.New("the subject search finds users (subject type user)")))
		return
	}
	if q.Action == nil || q.Resource == nil {
		s.authzenError(w, errors.Join(authzen.ErrBadRequest, errors.New("the subject search needs an action and a resource")))
		return
	}
	var object subjects.Object
	switch q.Resource.Type {
	case "collection":
		object = subjects.CollectionOf(q.Resource.ID)
	case "repository":
		object = subjects.Object{Kind: subjects.RepositoryObject, Path: q.Resource.ID}
	default:
		s.authzenError(w, errors.Join(authzen.ErrBadRequest, errors.New("the subject search takes a collection or a repository")))
		return
	}
	var options []string
	if q.Context != nil {
		options = q.Context.Options
	}
	entries, err := authz.WhoCan(s.store.Read(), object, q.Action.Name, options)
	if err != nil {
		s.authzenError(w, errors.Join(authzen.ErrBadRequest, err))
		return
	}
	after, limit := q.page()
	out := struct {
		Results []authzen.Subject `json:"results"`
		Page    searchPage        `json:"page"`
	}{Results: []authzen.Subject{}}
	for _, e := range entries {
		if e.Subject.Kind != subjects.User || e.Subject.Name <= after {
			continue
		}
		if len(out.Results) == limit {
			out.Page.NextToken = out.Results[limit-1].ID
			break
		}
		out.Results = append(out.Results, authzen.Subject{Type: "user", ID: e.Subject.Name})
	}
	writeAuthzen(w, http.StatusOK, out)
}

// maxScanned bounds the candidates one resource-search call decides: a
// page ends there with a token to go on.
const maxScanned = 5000

// authzenResourceSearch lists the resources of a type the subject may act
// on: collections, repositories, or the Kubernetes namespaces grants name.
func (s *Server) authzenResourceSearch(w http.ResponseWriter, r *http.Request) {
	var q searchRequest
	if err := readJSON(r, &q); err != nil {
		s.authzenError(w, err)
		return
	}
	if q.Resource == nil || q.Action == nil {
		s.authzenError(w, errors.Join(authzen.ErrBadRequest, errors.New("the resource search needs a subject, an action and a resource type")))
		return
	}
	candidates, err := s.candidates(q.Resource.Type)
	if err != nil {
		s.authzenError(w, err)
		return
	}
	after, limit := q.page()
	out := struct {
		Results []authzen.Resource `json:"results"`
		Page    searchPage         `json:"page"`
	}{Results: []authzen.Resource{}}
	start := sort.SearchStrings(candidates, after)
	if start < len(candidates) && candidates[start] == after {
		start++
	}
	scanned := 0
	for i := start; i < len(candidates); i++ {
		if len(out.Results) == limit || scanned == maxScanned {
			out.Page.NextToken = candidates[i-1]
			break
		}
		scanned++
		e := q.Evaluation
		e.Resource = &authzen.Resource{Type: q.Resource.Type, ID: candidates[i]}
		a, err := s.evaluate(r.Context(), e)
		if err != nil {
			s.authzenError(w, err)
			return
		}
		if a.Decision {
			out.Results = append(out.Results, *e.Resource)
		}
	}
	writeAuthzen(w, http.StatusOK, out)
}

// candidates are the resource IDs of a type, sorted.
func (s *Server) candidates(kind string) ([]string, error) {
	rd := s.store.Read()
	var out []string
	switch kind {
	case "collection":
		cols, err := rd.Collections("", 0)
		if err != nil {
			return nil, err
		}
		for _, c := range cols {
			out = append(out, c.Path)
		}
	case "repository":
		repos, err := rd.AllRepositories()
		if err != nil {
			return nil, err
		}
		for _, r := range repos {
			out = append(out, r.Namespace+"/"+r.Name)
		}
	case "kubernetes_namespace":
		grants, err := rd.Grants("", 0)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, g := range grants {
			if g.Object.Kind == subjects.NamespaceObject && !seen[g.Object.Path] {
				if role, _ := rd.Role(g.Role); role != nil && role.AppliesTo(roles.Kubernetes) {
					seen[g.Object.Path] = true
					out = append(out, g.Object.Path)
				}
			}
		}
	default:
		return nil, errors.Join(authzen.ErrBadRequest, errors.New("the resource search takes resource type collection, repository or kubernetes_namespace"))
	}
	sort.Strings(out)
	return out, nil
}

// authzenActionSearch lists the operations the subject may perform on the
// resource: every operation of the catalog for its kind, decided.
func (s *Server) authzenActionSearch(w http.ResponseWriter, r *http.Request) {
	var q searchRequest
	if err := readJSON(r, &q); err != nil {
		s.authzenError(w, err)
		return
	}
	if q.Resource == nil {
		s.authzenError(w, errors.Join(authzen.ErrBadRequest, errors.New("the action search needs a subject and a resource")))
		return
	}
	kind := roles.Swarm
	switch q.Resource.Type {
	case "repository":
		kind = roles.Repository
	case "kubernetes_namespace":
		kind = roles.Kubernetes
	}
	ops := roles.OperationsOf(kind)
	after, limit := q.page()
	out := struct {
		Results []authzen.Action `json:"results"`
		Page    searchPage       `json:"page"`
	}{Results: []authzen.Action{}}
	for i, op := range ops {
		if op <= after {
			continue
		}
		if len(out.Results) == limit {
			out.Page.NextToken = ops[i-1]
			break
		}
		e := q.Evaluation
		e.Action = &authzen.Action{Name: op}
		a, err := s.evaluate(r.Context(), e)
		if err != nil {
			s.authzenError(w, err)
			return
		}
		if a.Decision {
			out.Results = append(out.Results, *e.Action)
		}
	}
	writeAuthzen(w, http.StatusOK, out)
}
