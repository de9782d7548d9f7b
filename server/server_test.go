package server

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grantd/grantd/authn"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/pki"
	"github.com/grantd/grantd/store"
)

const adminPassword = "admin-password-1"

// testServer is a real server on a loopback port, over TLS with the
// certificate grantd generates, on a real single-node store.
type testServer struct {
	addr string
	http *http.Client
	grpc *grpc.ClientConn
	st   *store.Store
	// skew moves the server's clock forward (nanoseconds).
	skew *atomic.Int64
	srv  *Server
}

func startServer(t testing.TB) *testServer {
	t.Helper()
	return startServerWith(t, Config{})
}

// startServerWith starts a test server with cfg's extras (a decision log).
func startServerWith(t testing.TB, extra Config) *testServer {
	t.Helper()
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	engine, err := authz.New(log)
	if err != nil {
		t.Fatal(err)
	}
	cfg := store.DefaultConfig(dir + "/raft")
	cfg.Observe = engine.Observe
	st, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := st.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := Bootstrap(ctx, st, adminPassword, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := pki.EnsureTokenKeys(ctx, st, pki.AlgorithmES256, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := pki.EnsureClientCA(ctx, st, "", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	files, err := pki.EnsureTLS(dir, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{TLS: files, MaxRequestBytes: 64 << 10, ShutdownTimeout: time.Second, ReadTimeout: 5 * time.Second,
		DecisionLog: extra.DecisionLog}, st, engine, log)
	if err != nil {
		t.Fatal(err)
	}
	skew := new(atomic.Int64)
	srv.now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()

	pem, err := os.ReadFile(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tlsCfg := &tls.Config{RootCAs: pool, ServerName: "localhost"}
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{addr: ln.Addr().String(), st: st, grpc: conn, skew: skew, srv: srv,
		http: &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}, Timeout: 10 * time.Second}}
	t.Cleanup(func() {
		conn.Close()
		ts.http.CloseIdleConnections()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		st.Close()
	})
	return ts
}

// do sends a REST request and decodes the JSON answer.
func (ts *testServer) do(t testing.TB, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "https://"+ts.addr+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := ts.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func (ts *testServer) login(t testing.TB, user, password string) string {
	t.Helper()
	code, out := ts.do(t, "POST", "/auth/login", "", map[string]string{"username": user, "password": password})
	if code != 200 {
		t.Fatalf("login %s: %d %v", user, code, out)
	}
	tok, _ := out["auth_token"].(string)
	if !strings.HasPrefix(tok, authn.SessionTokenPrefix) {
		t.Fatalf("login answer %v has no auth_token", out)
	}
	return tok
}

func TestEveryMethodIsClassified(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range allMethods(t) {
		name := "/" + string(m.Parent().FullName()) + "/" + string(m.Name())
		seen[name] = true
		if _, ok := methodAccess[name]; !ok {
			t.Errorf("%s has no access class", name)
		}
	}
	for name := range methodAccess {
		if !seen[name] {
			t.Errorf("%s is classified but does not exist", name)
		}
	}
}

func allMethods(t *testing.T) []protoreflect.MethodDescriptor {
	var out []protoreflect.MethodDescriptor
	protoregistry.GlobalFiles.RangeFilesByPackage("grantd.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			svc := fd.Services().Get(i)
			for j := 0; j < svc.Methods().Len(); j++ {
				out = append(out, svc.Methods().Get(j))
			}
		}
		return true
	})
	if len(out) < 70 {
		t.Fatalf("found only %d methods", len(out))
	}
	return out
}

// TestAccessClassesOverGRPC calls every method of the API over the network
// with no credentials, with a non-admin's, and with the admin's, and checks
// each is admitted or refused as its class says.
func TestAccessClassesOverGRPC(t *testing.T) {
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	code, out := ts.do(t, "POST", "/v1/users", admin, map[string]any{"name": "alice", "password": "alice-pass-1"})
	if code != 200 {
		t.Fatalf("create alice: %d %v", code, out)
	}
	alice := ts.login(t, "alice", "alice-pass-1")
	methods := allMethods(t)
	// Logout ends the session it is called with, so it goes last.
	slices.SortStableFunc(methods, func(a, b protoreflect.MethodDescriptor) int {
		return cmp.Compare(boolInt(a.Name() == "Logout"), boolInt(b.Name() == "Logout"))
	})
	for _, m := range methods {
		name := "/" + string(m.Parent().FullName()) + "/" + string(m.Name())
		call := func(token string) codes.Code {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if token != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
			}
			in, reply := dynamicpb.NewMessage(m.Input()), dynamicpb.NewMessage(m.Output())
			return status.Code(ts.grpc.Invoke(ctx, name, in, reply))
		}
		class := methodAccess[name]
		if got := call(""); class != accessPublic && got != codes.Unauthenticated {
			t.Errorf("%s without credentials: %v", name, got)
		}
		if got := call("gds_forged"); class != accessPublic && got != codes.Unauthenticated {
			t.Errorf("%s with a forged token: %v", name, got)
		}
		if class == accessPublic {
			continue // Login with an empty body is a failed login, not a refusal.
		}
		got := call(alice)
		switch {
		case class == accessAdmin && got != codes.PermissionDenied:
			t.Errorf("%s as a non-admin: %v, want PermissionDenied", name, got)
		case class != accessAdmin && (got == codes.Unauthenticated || got == codes.Internal):
			t.Errorf("%s as a user: %v", name, got)
		}
		if got := call(admin); got == codes.Unauthenticated || got == codes.PermissionDenied || got == codes.Internal {
			t.Errorf("%s as admin: %v", name, got)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestRESTContract(t *testing.T) {
	ts := startServer(t)
	if code, _ := ts.do(t, "POST", "/auth/login", "", map[string]string{"username": "admin", "password": "wrong-password"}); code != 401 {
		t.Fatalf("bad password: %d", code)
	}
	if code, _ := ts.do(t, "POST", "/auth/login", "", map[string]string{"username": "nobody", "password": "wrong-password"}); code != 401 {
		t.Fatalf("unknown user: %d", code)
	}
	tok := ts.login(t, "admin", adminPassword)

	code, out := ts.do(t, "POST", "/v1/users", tok, map[string]any{"name": "maria", "fullName": "Maria", "password": "maria-pass-1", "isAdmin": false})
	if code != 200 || out["revision"] == nil {
		t.Fatalf("create user: %d %v", code, out)
	}
	if _, ok := out["revision"].(string); !ok {
		t.Errorf("revision is not a string: %v", out["revision"])
	}
	user := out["user"].(map[string]any)
	if user["isAdmin"] != false || user["defaultCollection"] != "/Shared/Private/maria" {
		t.Errorf("user = %v", user)
	}
	steps := []struct {
		method, path string
		body         any
		want         int
	}{
		{"POST", "/v1/orgs", map[string]any{"name": "acme"}, 200},
		{"POST", "/v1/orgs/acme/teams", map[string]any{"name": "mobile", "description": "apps"}, 200},
		{"PUT", "/v1/orgs/acme/members/maria", map[string]any{"isAdmin": false}, 200},
		{"PUT", "/v1/orgs/acme/teams/mobile/members/maria", map[string]any{"isAdmin": false}, 200},
		{"POST", "/v1/collections", map[string]any{"path": "/production"}, 200},
		{"POST", "/v1/collections", map[string]any{"path": "/production/mobile"}, 200},
		{"POST", "/v1/collections", map[string]any{"path": "/production/mobile"}, 409},
		{"POST", "/v1/collections", map[string]any{"path": "/nope/x"}, 404},
		{"POST", "/v1/collections", map[string]any{"path": "no-slash"}, 400},
		{"POST", "/v1/roles", map[string]any{"name": "developer", "permissions": []any{
			map[string]any{"operation": "container.logs"},
			map[string]any{"operation": "container.create", "options": []string{"privileged"}}}}, 200},
		{"POST", "/v1/roles", map[string]any{"name": "bad", "permissions": []any{map[string]any{"operation": "x.y"}}}, 400},
		{"POST", "/v1/grants", map[string]any{"subject": "team:acme/mobile", "role": "restrictedcontrol",
			"object": "collection:/production/mobile", "scope": "subtree"}, 200},
		{"POST", "/v1/grants", map[string]any{"subject": "team:acme/ghost", "role": "viewonly", "object": "collection:/production"}, 404},
		{"POST", "/v1/repositories", map[string]any{"namespace": "acme", "name": "awesome_app", "visibility": "private"}, 200},
		{"DELETE", "/v1/collections/production", nil, 409},
		{"DELETE", "/v1/collections/Shared", nil, 412},
		{"DELETE", "/v1/roles/fullcontrol", nil, 412},
		{"GET", "/v1/collections/production/mobile", nil, 200},
		{"GET", "/v1/nowhere", nil, 404},
		{"POST", "/v1/users", map[string]any{"name": "x", "unknownField": 1}, 400},
		{"POST", "/v1/users", map[string]any{"name": "bad name"}, 400},
	}
	for _, s := range steps {
		if code, out := ts.do(t, s.method, s.path, tok, s.body); code != s.want {
			t.Errorf("%s %s: %d %v, want %d", s.method, s.path, code, out, s.want)
		} else if code >= 400 && (out["code"] == nil || out["message"] == nil) {
			t.Errorf("%s %s: error body %v lacks code and message", s.method, s.path, out)
		}
	}
	code, out = ts.do(t, "GET", "/v1/grants?subject=user:maria&expandUser=true", tok, nil)
	if code != 200 {
		t.Fatalf("list grants: %d %v", code, out)
	}
	vias := map[string]bool{}
	for _, g := range out["grants"].([]any) {
		vias[g.(map[string]any)["via"].(string)] = true
	}
	for _, want := range []string{"user:maria", "user:maria → team:acme/mobile", "user:maria → authenticated"} {
		if !vias[want] {
			t.Errorf("expandUser misses a grant via %q: %v", want, vias)
		}
	}
	// Operational endpoints.
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 401, "/openapi.json": 401} {
		if code, _ := ts.do(t, "GET", path, "", nil); code != want {
			t.Errorf("GET %s: %d, want %d", path, code, want)
		}
	}
	for _, path := range []string{"/metrics", "/openapi.json"} {
		if code, _ := ts.do(t, "GET", path, tok, nil); code != 200 {
			t.Errorf("GET %s authenticated: %d", path, code)
		}
	}
}

// The role filter of ListGrants pages through exactly the role's grants
// (a scan of the grants: they are not indexed by role).
func TestListGrantsByRole(t *testing.T) {
	ts := startServer(t)
	tok := ts.login(t, "admin", adminPassword)
	for _, c := range []string{"/a", "/b", "/c"} {
		if code, out := ts.do(t, "POST", "/v1/collections", tok, map[string]any{"path": c}); code != 200 {
			t.Fatalf("collection %s: %d %v", c, code, out)
		}
		for _, role := range []string{"viewonly", "fullcontrol"} {
			if code, out := ts.do(t, "POST", "/v1/grants", tok, map[string]any{"subject": "user:admin", "role": role, "object": "collection:" + c}); code != 200 {
				t.Fatalf("grant %s on %s: %d %v", role, c, code, out)
			}
		}
	}
	var objects []string
	token := ""
	for pages := 0; ; pages++ {
		if pages == 3 {
			t.Fatalf("more than 2 pages of 2 for 3 grants: %v", objects)
		}
		code, out := ts.do(t, "GET", "/v1/grants?role=viewonly&pageSize=2&pageToken="+url.QueryEscape(token), tok, nil)
		if code != 200 {
			t.Fatalf("list: %d %v", code, out)
		}
		grants, _ := out["grants"].([]any)
		if len(grants) == 0 || len(grants) > 2 {
			t.Fatalf("page of %d grants: %v", len(grants), out)
		}
		for _, g := range grants {
			g := g.(map[string]any)
			if g["role"] != "viewonly" {
				t.Errorf("role filter listed %v", g)
			}
			objects = append(objects, g["object"].(string))
		}
		token, _ = out["nextPageToken"].(string)
		if token == "" {
			break
		}
	}
	slices.Sort(objects)
	if !slices.Equal(objects, []string{"collection:/a", "collection:/b", "collection:/c"}) {
		t.Errorf("viewonly grants listed: %v", objects)
	}
}

func TestOversizedBodyIsRefused(t *testing.T) {
	ts := startServer(t)
	tok := ts.login(t, "admin", adminPassword)
	big := map[string]any{"name": "x", "fullName": strings.Repeat("a", 100<<10)}
	if code, out := ts.do(t, "POST", "/v1/users", tok, big); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d %v", code, out)
	}
}

func TestSessionsAndTokens(t *testing.T) {
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	ts.do(t, "POST", "/v1/users", admin, map[string]any{"name": "bob", "password": "bob-pass-12"})
	bob := ts.login(t, "bob", "bob-pass-12")
	code, out := ts.do(t, "POST", "/v1/tokens", bob, map[string]any{"name": "ci"})
	if code != 200 {
		t.Fatalf("create token: %d %v", code, out)
	}
	secret := out["secret"].(string)
	if code, out := ts.do(t, "GET", "/v1/whoami", secret, nil); code != 200 || out["subject"] != "user:bob" || out["method"] != "api_token" {
		t.Fatalf("whoami with token: %d %v", code, out)
	}
	// Users cannot touch other users' tokens or admin resources.
	if code, _ := ts.do(t, "GET", "/v1/tokens?owner=user:admin", bob, nil); code != 403 {
		t.Errorf("bob listing admin's tokens: %d", code)
	}
	if code, _ := ts.do(t, "GET", "/v1/users/admin", bob, nil); code != 403 {
		t.Errorf("bob reading admin: %d", code)
	}
	// Deactivation takes effect at once, for sessions and tokens alike.
	if code, out := ts.do(t, "PATCH", "/v1/users/bob", admin, map[string]any{"active": false}); code != 200 {
		t.Fatalf("deactivate: %d %v", code, out)
	}
	for _, cred := range []string{bob, secret} {
		if code, _ := ts.do(t, "GET", "/v1/whoami", cred, nil); code != 401 {
			t.Errorf("inactive user's credential still works: %d", code)
		}
	}
	if code, _ := ts.do(t, "POST", "/auth/login", "", map[string]string{"username": "bob", "password": "bob-pass-12"}); code != 401 {
		t.Errorf("inactive user logs in: %d", code)
	}
	// Logout ends the session.
	if code, _ := ts.do(t, "POST", "/v1/auth/logout", admin, map[string]any{}); code != 200 {
		t.Fatalf("logout: %d", code)
	}
	if code, _ := ts.do(t, "GET", "/v1/whoami", admin, nil); code != 401 {
		t.Errorf("session survives logout: %d", code)
	}
}

func TestBootstrapOnlyOnce(t *testing.T) {
	st, err := store.Open(store.DefaultConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	pw, err := Bootstrap(context.Background(), st, "", time.Now())
	if err != nil || len(pw) < 20 {
		t.Fatalf("generated password %q, %v", pw, err)
	}
	again, err := Bootstrap(context.Background(), st, "", time.Now())
	if !errors.Is(err, ErrBootstrapped) || again != "" {
		t.Fatalf("second bootstrap: %q, %v", again, err)
	}
	u, _ := st.Read().User(RecoveryAdmin)
	if u == nil || !authn.CheckPassword(u.PasswordHash, pw) || !u.Recovery {
		t.Fatalf("recovery admin %+v does not take the printed password", u)
	}
	if _, err := Bootstrap(context.Background(), openBare(t), "short", time.Now()); err == nil {
		t.Fatal("a too-short GRANTD_ADMIN_PASSWORD was accepted")
	}
}

func openBare(t *testing.T) *store.Store {
	st, err := store.Open(store.DefaultConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

// Join is public but proves itself with a join token's MAC: malformed
// requests are 400, unknown tokens 403 without saying more; a single node
// makes no join tokens.
func TestJoinRefusals(t *testing.T) {
	ts := startServer(t)
	tok := ts.login(t, "admin", adminPassword)
	if code, out := ts.do(t, "POST", "/v1/cluster/joinTokens", tok, map[string]any{}); code != 412 && code != 400 {
		t.Errorf("join token on a single node: %d %v", code, out)
	}
	if code, _ := ts.do(t, "POST", "/v1/cluster/joinTokens", "", map[string]any{}); code != 401 {
		t.Errorf("join token without credentials: %d", code)
	}
	nonce := base64.StdEncoding.EncodeToString(make([]byte, 32))
	good := map[string]any{"tokenId": "0011223344556677", "nodeId": "node2", "address": "10.0.0.2:8301",
		"publicKey": "PEM", "nonce": nonce, "mac": nonce}
	if code, out := ts.do(t, "POST", "/v1/cluster:join", "", good); code != 403 || !strings.Contains(fmt.Sprint(out["message"]), "join refused") {
		t.Errorf("unknown token: %d %v", code, out)
	}
	for field, v := range map[string]any{"tokenId": "../x", "nodeId": "Node 2", "address": "nowhere", "nonce": "AAAA"} {
		bad := maps.Clone(good)
		bad[field] = v
		if code, out := ts.do(t, "POST", "/v1/cluster:join", "", bad); code != 400 {
			t.Errorf("join with a bad %s: %d %v", field, code, out)
		}
	}
}
