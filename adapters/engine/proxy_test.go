package engine

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/collections"
	"github.com/grantd/grantd/subjects"
)

// collectionBackend allows view and create in the collections it lists
// and knows every caller's default collection, like the policy would.
type collectionBackend struct {
	allowed map[string]bool
	def     string
}

func (collectionBackend) Identify(_ context.Context, user string, _ *x509.Certificate) (Identity, error) {
	return Identity{Subject: subjects.OfUser(user)}, nil
}

func (b collectionBackend) Decide(_ context.Context, q authz.Request) authz.Decision {
	where := q.Collection
	if where == "" {
		label, ok := q.Labels[collections.AccessLabel]
		switch {
		case ok:
			where = label
		case strings.HasSuffix(q.Operation, ".create"):
			where = b.def
		default:
			where = collections.Root
		}
	}
	if b.allowed[where] {
		return authz.Decision{Allowed: true, Code: "granted", Collection: where}
	}
	return authz.Decision{Code: "missing_operation", Reason: "no grant on " + where, Collection: where}
}

// engineRecorder is a stub engine: lists from a table, and the body of
// every other request recorded.
type engineRecorder struct {
	mu     sync.Mutex
	bodies map[string]string
	lists  map[string]string
}

func (e *engineRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	e.mu.Lock()
	e.bodies[r.URL.Path] = string(b)
	list, ok := e.lists[r.URL.Path]
	e.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if ok {
		_, _ = io.WriteString(w, list)
		return
	}
	_, _ = io.WriteString(w, `{"Id":"x"}`)
}

// body is the last body the engine got on path.
func (e *engineRecorder) body(path string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.bodies[path]
}

func newTestProxy(t testing.TB, b Backend, lists map[string]string) (*Proxy, *engineRecorder) {
	t.Helper()
	rec := &engineRecorder{bodies: map[string]string{}, lists: lists}
	sock := filepath.Join(t.TempDir(), "engine.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rec, ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	res, err := NewResolver([]string{"unix://" + sock}, nil, "s3cret", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	px, err := NewProxy(ProxyConfig{Engines: []string{"unix://" + sock}}, b, res, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return px, rec
}

// call sends one request through the proxy as user (its certificate's CN).
func call(t *testing.T, px *Proxy, user, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{selfSigned(t, user)}}
	w := httptest.NewRecorder()
	px.ServeHTTP(w, r)
	return w
}

func TestProxyStampsTheCreatorsCollection(t *testing.T) {
	b := collectionBackend{allowed: map[string]bool{"/Shared/Private/maria": true, "/prod": true}, def: "/Shared/Private/maria"}
	px, rec := newTestProxy(t, b, nil)
	for _, c := range []struct{ path, body string }{
		{"/v1.41/containers/create", `{"Image":"hello","HostConfig":{"Memory":1073741824000}}`},
		{"/v1.41/volumes/create", `{"Name":"v"}`},
		{"/v1.41/networks/create", `{"Name":"n","Labels":{"team":"web"}}`},
		{"/v1.41/secrets/create", `{"Name":"s","Data":"eA=="}`},
		{"/v1.41/services/create", `{"Name":"svc","TaskTemplate":{"ContainerSpec":{"Image":"hello"}}}`},
	} {
		if w := call(t, px, "maria", "POST", c.path, c.body); w.Code != 200 {
			t.Fatalf("%s: %d %s", c.path, w.Code, w.Body)
		}
		sent := rec.body(c.path)
		if !strings.Contains(sent, `"com.docker.ucp.access.label":"/Shared/Private/maria"`) {
			t.Errorf("%s: the engine got %s", c.path, sent)
		}
		if strings.Contains(c.path, "services") && strings.Count(sent, "com.docker.ucp.access.label") != 2 {
			t.Errorf("a service's task template is not labelled: %s", sent)
		}
	}
	// Numbers and other fields stay as sent; a label of the caller stays.
	if sent := rec.body("/v1.41/containers/create"); !strings.Contains(sent, "1073741824000") {
		t.Errorf("the body's numbers changed: %s", sent)
	}
	if sent := rec.body("/v1.41/networks/create"); !strings.Contains(sent, `"team":"web"`) {
		t.Errorf("the caller's labels were lost: %s", sent)
	}
	// A labelled create is forwarded as it came.
	body := `{"Image":"hello","Labels":{"com.docker.ucp.access.label":"/prod"}}`
	call(t, px, "maria", "POST", "/v1.41/containers/create", body)
	if sent := rec.body("/v1.41/containers/create"); sent != body {
		t.Errorf("a labelled create was changed: %s", sent)
	}
}

func TestProxyRefusesInTheEnginesShape(t *testing.T) {
	px, _ := newTestProxy(t, collectionBackend{allowed: map[string]bool{}}, nil)
	for _, c := range []struct{ method, path, body, want string }{
		{"POST", "/v1.41/containers/create", `{"Image":"x","Labels":{"com.docker.ucp.access.label":"/prod"}}`, "container.create denied on /prod"},
		{"GET", "/v1.41/swarm", "", "system admins only"},
		{"GET", "/v1.41/no/such/route", "", "not a known Engine API route"},
	} {
		w := call(t, px, "paolo", c.method, c.path, c.body)
		var msg struct{ Message string }
		if w.Code != 403 || json.Unmarshal(w.Body.Bytes(), &msg) != nil || !strings.Contains(msg.Message, c.want) {
			t.Errorf("%s %s: %d %s, want 403 saying %q", c.method, c.path, w.Code, w.Body, c.want)
		}
	}
	// Without a client certificate nothing passes, not even a ping.
	r := httptest.NewRequest("GET", "/_ping", nil)
	w := httptest.NewRecorder()
	px.ServeHTTP(w, r)
	if w.Code != 403 {
		t.Errorf("a call without a certificate: %d", w.Code)
	}
}

func TestProxyFiltersLists(t *testing.T) {
	label := func(c string) string { return `{"com.docker.ucp.access.label":"` + c + `"}` }
	lists := map[string]string{
		"/v1.41/containers/json": `[{"Id":"a","Names":["/mine"],"Labels":` + label("/prod") + `},{"Id":"b","Names":["/theirs"],"Labels":` + label("/other") +
			`},{"Id":"c","Names":["/unlabelled"],"Labels":{}}]`,
		"/v1.41/volumes":     `{"Volumes":[{"Name":"mine","Labels":` + label("/prod") + `},{"Name":"theirs","Labels":null}],"Warnings":null}`,
		"/v1.41/services":    `[{"ID":"s1","Spec":{"Name":"mine","Labels":` + label("/prod") + `}},{"ID":"s2","Spec":{"Name":"theirs"}}]`,
		"/v1.41/images/json": `[{"Id":"sha256:1"}]`,
	}
	px, _ := newTestProxy(t, collectionBackend{allowed: map[string]bool{"/prod": true}}, lists)
	for path, want := range map[string]string{
		"/v1.41/containers/json": `"/mine"`, "/v1.41/volumes": `"mine"`, "/v1.41/services": `"mine"`,
	} {
		w := call(t, px, "maria", "GET", path, "")
		got := w.Body.String()
		if w.Code != 200 || !strings.Contains(got, want) || strings.Contains(got, "theirs") || strings.Contains(got, "unlabelled") {
			t.Errorf("%s: %d %s", path, w.Code, got)
		}
	}
	// Images are all or nothing: image.view on /.
	if w := call(t, px, "maria", "GET", "/v1.41/images/json", ""); strings.TrimSpace(w.Body.String()) != "[]" {
		t.Errorf("images without image.view on /: %s", w.Body)
	}
}
