package server

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestAuthorizeRESTAnswersAsTheGateway: POST /v1/authorize, answered by
// authorizeREST, gives the same status, headers that matter and bytes as
// the gateway's own route, for good and bad requests alike.
func TestAuthorizeRESTAnswersAsTheGateway(t *testing.T) {
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	allowed := `{"subject":"user:admin","operation":"container.view","resource":{"collection":"/Shared"}}`
	cases := []struct {
		name    string
		body    string
		headers map[string][]string
	}{
		{"allowed", allowed, map[string][]string{"Authorization": {"Bearer " + admin}}},
		{"denied", `{"subject":"user:nobody","operation":"container.view","resource":{"collection":"/Shared"}}`, map[string][]string{"Authorization": {"Bearer " + admin}}},
		{"unknown collection", `{"subject":"user:admin","operation":"container.create","resource":{"collection":"/nowhere"}}`, map[string][]string{"Authorization": {"Bearer " + admin}}},
		{"creation", `{"subject":"user:admin","operation":"container.create","resource":{"collection":"/Shared"}}`, map[string][]string{"Authorization": {"Bearer " + admin}}},
		{"no token", allowed, nil},
		{"wrong token", allowed, map[string][]string{"Authorization": {"Bearer gs_nothing"}}},
		{"not bearer", allowed, map[string][]string{"Authorization": {"Basic YWRtaW46YWRtaW4="}}},
		{"token not ASCII", allowed, map[string][]string{"Authorization": {"Bearer " + admin + "\u00e9"}}},
		{"a token not ASCII, then a good one", allowed, map[string][]string{"Authorization": {"Bearer \u00e9", "Bearer " + admin}}},
		{"two tokens", allowed, map[string][]string{"Authorization": {"Bearer gs_nothing", "Bearer " + admin}}},
		{"malformed JSON", `{"subject":`, map[string][]string{"Authorization": {"Bearer " + admin}}},
		{"unknown field", `{"subject":"user:admin","verb":"x"}`, map[string][]string{"Authorization": {"Bearer " + admin}}},
		{"empty body", ``, map[string][]string{"Authorization": {"Bearer " + admin}}},
		{"trailing bytes", allowed + ` {"x":1}`, map[string][]string{"Authorization": {"Bearer " + admin}}},
		{"trailers accepted", allowed, map[string][]string{"Authorization": {"Bearer " + admin}, "Te": {"trailers"}}},
		{"grpc timeout", allowed, map[string][]string{"Authorization": {"Bearer " + admin}, "Grpc-Timeout": {"5S"}}},
		{"text content", allowed, map[string][]string{"Authorization": {"Bearer " + admin}, "Content-Type": {"text/plain"}}},
		// Read by hand (restcodec.go), then the forms left to the gateway.
		{"labels, options, secrets", ` {"subject":"user:admin", "operation":"service.create","options":["privileged"],
			"secrets":["/Shared"],"resource":{"labels":{"com.docker.ucp.access.label":"/Shared","app":"web"}}} `, map[string][]string{"Authorization": {"Bearer " + admin}}},
		{"a repository", `{"subject":"user:admin","operation":"repository.pull","resource":{"repository":"admin/app"}}`, map[string][]string{"Authorization": {"Bearer " + admin}}},
		{"not ASCII", `{"subject":"user:josé","operation":"container.view","resource":{"collection":"/Shared/été"}}`, map[string][]string{"Authorization": {"Bearer " + admin}}},
		{"escapes", `{"subject":"user:\u0061dmin","operation":"container.view","resource":{"collection":"/Sh\"ared"}}`, map[string][]string{"Authorization": {"Bearer " + admin}}},
		{"a member twice", `{"subject":"user:admin","subject":"user:nobody","operation":"container.view"}`, map[string][]string{"Authorization": {"Bearer " + admin}}},
		{"a label twice", `{"subject":"user:admin","operation":"container.view","resource":{"labels":{"a":"1","a":"2"}}}`, map[string][]string{"Authorization": {"Bearer " + admin}}},
		{"null", `{"subject":"user:admin","operation":"container.view","resource":null}`, map[string][]string{"Authorization": {"Bearer " + admin}}},
		{"min revision", `{"subject":"user:admin","operation":"container.view","minRevision":"1"}`, map[string][]string{"Authorization": {"Bearer " + admin}}},
		{"invalid UTF-8", "{\"subject\":\"user:\xff\",\"operation\":\"container.view\"}", map[string][]string{"Authorization": {"Bearer " + admin}}},
	}
	serve := func(h http.Handler, body string, headers map[string][]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/v1/authorize", bytes.NewReader([]byte(body)))
		r.RemoteAddr = "127.0.0.1:40000"
		for k, vs := range headers {
			for _, v := range vs {
				r.Header.Add(k, v)
			}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	gateway := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.srv.rest.ServeHTTP(w, withHTTPCall(r))
	})
	statuses := map[int]bool{}
	for _, c := range cases {
		want := serve(gateway, c.body, c.headers)
		got := serve(ts.srv.handler, c.body, c.headers)
		statuses[want.Code] = true
		if got.Code != want.Code || got.Body.String() != want.Body.String() {
			t.Errorf("%s: %d %q; the gateway answers %d %q", c.name, got.Code, got.Body, want.Code, want.Body)
		}
		for _, h := range []string{"Content-Type", "Www-Authenticate", "Content-Length", "Transfer-Encoding"} {
			if got.Header().Get(h) != want.Header().Get(h) {
				t.Errorf("%s: %s %q; the gateway's %q", c.name, h, got.Header().Get(h), want.Header().Get(h))
			}
		}
	}
	// The cases reach the answers that matter: a decision, a refused
	// caller, a bad request.
	for _, code := range []int{http.StatusOK, http.StatusUnauthorized, http.StatusBadRequest} {
		if !statuses[code] {
			t.Errorf("no case answered %d: %v", code, statuses)
		}
	}
}
