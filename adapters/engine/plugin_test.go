package engine

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/pkg/authorization"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/subjects"
)

// recorder is a backend that identifies any certificate as its CN and
// records the questions, allowing all of them unless told otherwise.
type recorder struct {
	asked []authz.Request
	deny  string // operation to deny
}

func (r *recorder) Identify(_ context.Context, user string, _ *x509.Certificate) (Identity, error) {
	return Identity{Subject: subjects.OfUser(user)}, nil
}

func (r *recorder) Decide(_ context.Context, q authz.Request) authz.Decision {
	r.asked = append(r.asked, q)
	if q.Operation == r.deny {
		return authz.Decision{Code: "missing_operation", Reason: "no grant"}
	}
	return authz.Decision{Allowed: true, Code: "granted"}
}

// engineStub answers inspects from a table of inspect bodies by path.
func engineStub(t *testing.T, objects map[string]string) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "engine.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(LookupHeader) != "s3cret" {
			http.Error(w, "no secret", 500)
			return
		}
		body, ok := objects[r.URL.Path]
		if !ok {
			http.Error(w, `{"message":"no such object"}`, 404)
			return
		}
		_, _ = io.WriteString(w, body)
	}), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "unix://" + sock
}

func newTestPlugin(t *testing.T, b Backend, objects map[string]string) *Plugin {
	t.Helper()
	res, err := NewResolver([]string{engineStub(t, objects)}, nil, "s3cret", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return New(Config{}, b, res, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// request builds an AuthZReq body the way the daemon encodes it, with
// the daemon's own types, and decodes it into the plugin's.
func request(t *testing.T, user, method, uri, body string, headers map[string]string) *Request {
	t.Helper()
	in := authorization.Request{User: user, UserAuthNMethod: "TLS", RequestMethod: method, RequestURI: uri,
		RequestBody: []byte(body), RequestHeaders: headers}
	if user != "" {
		// Any parseable certificate: the recorder trusts the CN.
		in.RequestPeerCertificates = []*authorization.PeerCertificate{(*authorization.PeerCertificate)(selfSigned(t, user))}
	}
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Request
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func TestPluginQuestions(t *testing.T) {
	objects := map[string]string{
		"/services/web":  `{"Spec":{"Labels":{"com.docker.ucp.access.label":"/prod"}}}`,
		"/nodes/n1":      `{"Spec":{"Labels":{"com.docker.ucp.access.label":"/Shared"}}}`,
		"/containers/c1": `{"Config":{"Labels":{"com.docker.ucp.access.label":"/prod"}}}`,
		"/secrets/s1":    `{"Spec":{"Labels":{"com.docker.ucp.access.label":"/prod"}}}`,
	}
	objects["/containers/c1/json"] = objects["/containers/c1"]
	cases := []struct {
		name, method, uri, body string
		// want lists the questions: operation@collection-or-label[+options].
		want []string
		msg  string // denial text, when denied
	}{
		{"service update moving collections", "POST", "/v1.51/services/web/update",
			`{"Labels":{"com.docker.ucp.access.label":"/staging"},"TaskTemplate":{"ContainerSpec":{"Secrets":[{"SecretID":"s1"}]}}}`,
			[]string{"service.update@/prod", "service.update@/staging"}, ""},
		{"service update in place", "POST", "/services/web/update", `{"Labels":{"com.docker.ucp.access.label":"/prod"}}`,
			[]string{"service.update@/prod"}, ""},
		{"node relabelled", "POST", "/nodes/n1/update", `{"Labels":{"com.docker.ucp.access.label":"/Shared/x"}}`,
			[]string{"node.update@/Shared", "node.update@/Shared/x"}, ""},
		{"forced image removal", "DELETE", "/images/library/alpine:3?force=1", "", []string{"image.remove@/+force"}, ""},
		{"image removal", "DELETE", "/images/alpine?force=0", "", []string{"image.remove@/"}, ""},
		{"commit", "POST", "/commit?container=c1&repo=x", "", []string{"image.commit@/", "container.export@/prod"}, ""},
		{"network connect", "POST", "/networks/c1/connect", `{"Container":"c1"}`, nil, "no such object"},
		{"create without a visible body", "POST", "/containers/create", "", nil, "not visible to the plugin"},
		{"unreadable body", "POST", "/volumes/create", "{", nil, "unreadable request body"},
		{"unknown route", "GET", "/v1.51/containers/c1/secrets", "", nil, "not a known Engine API route"},
		{"dot segments", "GET", "/containers/c1/../../swarm", "", nil, "not a known Engine API route"},
		{"service with an unknown secret", "POST", "/services/create", `{"TaskTemplate":{"ContainerSpec":{"Secrets":[{"SecretID":"nope"}]}}}`, nil, "no such object"},
	}
	for _, c := range cases {
		rec := &recorder{}
		p := newTestPlugin(t, rec, objects)
		res := p.AuthZReq(context.Background(), request(t, "dev", c.method, c.uri, c.body, nil))
		if c.msg != "" {
			if res.Allow || !strings.Contains(res.Msg, c.msg) {
				t.Errorf("%s: %+v, want a denial saying %q", c.name, res, c.msg)
			}
			continue
		}
		if !res.Allow {
			t.Errorf("%s: denied: %s", c.name, res.Msg)
			continue
		}
		var got []string
		for _, q := range rec.asked {
			where := q.Collection
			if q.HasLabels {
				where = q.Labels["com.docker.ucp.access.label"]
			}
			s := q.Operation + "@" + where
			if len(q.Options) > 0 {
				s += "+" + strings.Join(q.Options, ",")
			}
			got = append(got, s)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: asked %v, want %v", c.name, got, c.want)
		}
	}
}

func TestPluginOwnLookupsAndLocalSocket(t *testing.T) {
	rec := &recorder{}
	p := newTestPlugin(t, rec, nil)
	ctx := context.Background()
	// The resolver's own inspect, with its secret, passes without a user.
	if res := p.AuthZReq(ctx, request(t, "", "GET", "/containers/c1/json", "", map[string]string{LookupHeader: "s3cret"})); !res.Allow {
		t.Errorf("own lookup denied: %s", res.Msg)
	}
	// The secret opens nothing else, and a wrong one nothing at all.
	for _, c := range []struct{ method, uri, secret string }{
		{"POST", "/containers/c1/start", "s3cret"},
		{"GET", "/containers/c1/logs", "s3cret"},
		{"GET", "/containers/c1/json", "guess"},
		{"GET", "/containers/c1/json", ""},
	} {
		res := p.AuthZReq(ctx, request(t, "", c.method, c.uri, "", map[string]string{LookupHeader: c.secret}))
		if res.Allow || !strings.Contains(res.Msg, "local socket") {
			t.Errorf("%s %s with secret %q: %+v, want denied", c.method, c.uri, c.secret, res)
		}
	}
	// A user without a certificate is refused.
	req := request(t, "", "GET", "/version", "", nil)
	req.User = "dev"
	if res := p.AuthZReq(ctx, req); res.Allow {
		t.Error("a user without a certificate was allowed")
	}
	// The local socket when the operator allows it.
	p.cfg.AllowLocalSocket = true
	if res := p.AuthZReq(ctx, request(t, "", "POST", "/containers/create", "{}", nil)); !res.Allow {
		t.Errorf("local socket allowed by configuration: %s", res.Msg)
	}
	// A failing decision is a denial naming the operation and collection.
	rec.deny = "container.view"
	res := p.AuthZReq(ctx, request(t, "dev", "GET", "/containers/json", "", nil))
	if res.Allow || !strings.Contains(res.Msg, "container.view denied on /") || !strings.Contains(res.Msg, "cannot filter") {
		t.Errorf("list denial: %+v", res)
	}
}

func TestPluginProtocol(t *testing.T) {
	p := newTestPlugin(t, &recorder{}, nil)
	sock := filepath.Join(t.TempDir(), "p.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	post := func(path, body string) map[string]any {
		resp, err := c.Post("http://plugin"+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return out
	}
	if got := post("/Plugin.Activate", ""); got["Implements"].([]any)[0] != "authz" {
		t.Errorf("activate: %v", got)
	}
	if got := post("/AuthZPlugin.AuthZReq", "not json"); got["Allow"] != false || !strings.Contains(got["Msg"].(string), "unreadable") {
		t.Errorf("garbage request: %v", got)
	}
	if got := post("/AuthZPlugin.AuthZRes", `{"ResponseStatusCode":200}`); got["Allow"] != true {
		t.Errorf("response phase: %v", got)
	}
}

// selfSigned is a throwaway certificate with the given CN.
func selfSigned(t testing.TB, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
