package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/auth/token"
	"github.com/distribution/distribution/v3/registry/handlers"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sirupsen/logrus"

	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

const registryService = "registry.test"

// registryEnv is a real grantd and a real distribution registry in this
// process, configured for token auth against grantd with only grantd's
// root certificate bundle.
type registryEnv struct {
	t      *testing.T
	g      *grantd
	admin  string
	host   string // the registry's host:port
	reg    *httptest.Server
	client *http.Transport // trusts grantd's TLS CA
}

func startRegistryEnv(t *testing.T, grantdArgs ...string) *registryEnv {
	t.Helper()
	dir := t.TempDir()
	g := start(t, dir, append([]string{"--registry-services", registryService}, grantdArgs...)...)
	// The realm names grantd by host name: clients refuse realms at
	// private IP literals (a registry could point them at internal services).
	_, port, _ := net.SplitHostPort(g.addr)
	logrus.SetLevel(logrus.WarnLevel) // the registry's own logger
	cfg := &configuration.Configuration{}
	cfg.Log.Level = "error"
	cfg.Log.AccessLog.Disabled = true
	cfg.Storage = configuration.Storage{"inmemory": configuration.Parameters{}, "delete": configuration.Parameters{"enabled": true}}
	cfg.Auth = configuration.Auth{"token": configuration.Parameters{
		"realm": "https://localhost:" + port + "/auth/token", "service": registryService, "issuer": "grantd",
		"rootcertbundle": filepath.Join(dir, "registry", "token-root.crt"),
	}}
	cfg.HTTP.Secret = "e2e-registry-secret"
	cfg.Catalog.MaxEntries = 1000
	app := handlers.NewApp(context.Background(), cfg)
	reg := httptest.NewServer(app)
	t.Cleanup(reg.Close)
	caPEM, err := os.ReadFile(filepath.Join(dir, "tls", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	u, _ := url.Parse(reg.URL)
	return &registryEnv{t: t, g: g, admin: g.login(t), host: u.Host, reg: reg,
		client: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func (e *registryEnv) ref(repo string) name.Reference {
	e.t.Helper()
	ref, err := name.ParseReference(e.host+"/"+repo, name.Insecure)
	if err != nil {
		e.t.Fatal(err)
	}
	return ref
}

func (e *registryEnv) opts(auth authn.Authenticator) []remote.Option {
	return []remote.Option{remote.WithAuth(auth), remote.WithTransport(e.client)}
}

func basic(user string) authn.Authenticator {
	return &authn.Basic{Username: user, Password: user + "-password"}
}

// push writes a random image; pull reads a manifest and its layers back;
// deleteTag deletes a tag. Each call gets fresh tokens from grantd.
func (e *registryEnv) push(auth authn.Authenticator, repo string) error {
	img, err := random.Image(512, 1)
	if err != nil {
		e.t.Fatal(err)
	}
	return remote.Write(e.ref(repo), img, e.opts(auth)...)
}

func (e *registryEnv) pull(auth authn.Authenticator, repo string) error {
	img, err := remote.Image(e.ref(repo), e.opts(auth)...)
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (e *registryEnv) deleteTag(auth authn.Authenticator, repo string) error {
	return remote.Delete(e.ref(repo), e.opts(auth)...)
}

func (e *registryEnv) catalog(auth authn.Authenticator) ([]string, error) {
	reg, err := name.NewRegistry(e.host, name.Insecure)
	if err != nil {
		e.t.Fatal(err)
	}
	return remote.Catalog(context.Background(), reg, e.opts(auth)...)
}

// expect checks one step of the matrix.
func expect(t *testing.T, what string, err error, allowed bool) {
	t.Helper()
	switch {
	case allowed && err != nil:
		t.Errorf("%s: %v, want allowed", what, err)
	case !allowed && err == nil:
		t.Errorf("%s: allowed, want refused", what)
	}
}

// rawToken asks grantd's token endpoint directly.
func (e *registryEnv) rawToken(user, password string, scopes ...string) (int, map[string]any) {
	e.t.Helper()
	q := url.Values{"service": {registryService}, "scope": scopes}
	req, _ := http.NewRequest("GET", "https://"+e.g.addr+"/auth/token?"+q.Encode(), nil)
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := (&http.Client{Transport: e.client, Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// registryGet calls the registry API with a bearer token.
func (e *registryEnv) registryGet(path, bearer string) int {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.reg.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRegistryPermissionMatrix walks who may push, pull, delete tags and
// list the catalog, with real pushes and pulls through a real registry.
func TestRegistryPermissionMatrix(t *testing.T) {
	e := startRegistryEnv(t)
	g, admin := e.g, e.admin
	for _, u := range []string{"olga", "rita", "will", "ada", "erin", "mo"} {
		g.must(t, 200, "POST", "/v1/users", admin, map[string]any{"name": u, "password": u + "-password"})
	}
	g.must(t, 200, "POST", "/v1/orgs", admin, map[string]any{"name": "acme"})
	g.must(t, 200, "PUT", "/v1/orgs/acme/members/olga", admin, map[string]any{"isAdmin": true})
	for team, user := range map[string]string{"readers": "rita", "writers": "will", "admins": "ada", "movers": "mo"} {
		g.must(t, 200, "POST", "/v1/orgs/acme/teams", admin, map[string]any{"name": team})
		g.must(t, 200, "PUT", "/v1/orgs/acme/teams/"+team+"/members/"+user, admin, map[string]any{"isAdmin": false})
	}

	// The org admin's first push creates the repository, private.
	expect(t, "org admin pushes a new acme/app", e.push(basic("olga"), "acme/app:v1"), true)
	repo := g.must(t, 200, "GET", "/v1/repositories/acme/app", admin, nil)
	if repo["visibility"] != "private" {
		t.Errorf("created repository: %v", repo)
	}
	grant := map[string]string{}
	for team, role := range map[string]string{"readers": "repo-read-only", "writers": "repo-read-write", "admins": "repo-admin", "movers": "repo-read-only"} {
		out := g.must(t, 200, "POST", "/v1/grants", admin, map[string]any{"subject": "team:acme/" + team, "role": role, "object": "repository:acme/app"})
		grant[team] = out["grant"].(map[string]any)["id"].(string)
	}
	steps := []struct {
		what    string
		do      func() error
		allowed bool
	}{
		{"read-only team pulls", func() error { return e.pull(basic("rita"), "acme/app:v1") }, true},
		{"read-only team pushes", func() error { return e.push(basic("rita"), "acme/app:ro") }, false},
		{"read-only team deletes a tag", func() error { return e.deleteTag(basic("rita"), "acme/app:v1") }, false},
		{"read-write team pushes", func() error { return e.push(basic("will"), "acme/app:rw") }, true},
		{"read-write team pulls", func() error { return e.pull(basic("will"), "acme/app:rw") }, true},
		{"read-write team deletes a tag", func() error { return e.deleteTag(basic("will"), "acme/app:rw") }, true},
		{"admin team pushes", func() error { return e.push(basic("ada"), "acme/app:adm") }, true},
		{"admin team deletes a tag", func() error { return e.deleteTag(basic("ada"), "acme/app:adm") }, true},
		{"read-write team cannot create repositories in the org", func() error { return e.push(basic("will"), "acme/other:v1") }, false},
		{"outsider pulls a private repository", func() error { return e.pull(basic("erin"), "acme/app:v1") }, false},
		{"outsider pushes into the org namespace", func() error { return e.push(basic("erin"), "acme/erins:v1") }, false},
		{"user pushes into their own namespace", func() error { return e.push(basic("erin"), "erin/tool:v1") }, true},
		{"user pulls from their own namespace", func() error { return e.pull(basic("erin"), "erin/tool:v1") }, true},
		{"another user pulls a private user repository", func() error { return e.pull(basic("rita"), "erin/tool:v1") }, false},
		{"org admin pushes and deletes a tag", func() error {
			if err := e.push(basic("olga"), "acme/app:tmp"); err != nil {
				return err
			}
			return e.deleteTag(basic("olga"), "acme/app:tmp")
		}, true},
		{"anonymous pulls a private repository", func() error { return e.pull(authn.Anonymous, "acme/app:v1") }, false},
		{"wrong password", func() error { return e.pull(&authn.Basic{Username: "rita", Password: "nope"}, "acme/app:v1") }, false},
	}
	for _, s := range steps {
		expect(t, s.what, s.do(), s.allowed)
	}
	// Sharing rules: a user repository is shared with users, never teams.
	g.must(t, 200, "POST", "/v1/grants", admin, map[string]any{"subject": "user:rita", "role": "repo-read-only", "object": "repository:erin/tool"})
	expect(t, "a user shared a user repository pulls", e.pull(basic("rita"), "erin/tool:v1"), true)
	expect(t, "a user shared read-only pushes", e.push(basic("rita"), "erin/tool:v2"), false)
	if code, out, _ := g.call(context.Background(), "POST", "/v1/grants", admin, map[string]any{"subject": "team:acme/readers",
		"role": "repo-read-only", "object": "repository:erin/tool"}); code < 400 || code >= 500 {
		t.Errorf("a team grant on a user repository: %d %v, want refused", code, out)
	}
	for _, name := range []string{"acme/erins", "acme/other"} {
		if code, _, _ := g.call(context.Background(), "GET", "/v1/repositories/"+name, admin, nil); code != 404 {
			t.Errorf("%s exists after a refused push: %d", name, code)
		}
	}

	// Public repositories: anyone pulls, nobody anonymous pushes.
	g.must(t, 200, "PATCH", "/v1/repositories/acme/app", admin, map[string]any{"visibility": "public"})
	expect(t, "anonymous pulls a public repository", e.pull(authn.Anonymous, "acme/app:v1"), true)
	expect(t, "outsider pulls a public repository", e.pull(basic("erin"), "acme/app:v1"), true)
	expect(t, "anonymous pushes to a public repository", e.push(authn.Anonymous, "acme/app:anon"), false)
	g.must(t, 200, "PATCH", "/v1/repositories/acme/app", admin, map[string]any{"visibility": "private"})

	// The catalog is for system admins.
	list, err := e.catalog(&authn.Basic{Username: "admin", Password: adminPassword})
	if err != nil || !slices.Contains(list, "acme/app") || !slices.Contains(list, "erin/tool") {
		t.Errorf("admin catalog: %v %v", list, err)
	}
	if list, err := e.catalog(basic("olga")); err == nil && len(list) > 0 {
		t.Errorf("org admin listed the catalog: %v", list)
	}

	// A grant revoked between two pulls.
	expect(t, "pull before the revocation", e.pull(basic("mo"), "acme/app:v1"), true)
	g.must(t, 200, "DELETE", "/v1/grants/"+grant["movers"], admin, nil)
	expect(t, "pull after the revocation", e.pull(basic("mo"), "acme/app:v1"), false)

	// API tokens work as passwords until revoked.
	out := g.must(t, 200, "POST", "/v1/tokens", admin, map[string]any{"owner": "user:will", "name": "ci"})
	secret, id := out["secret"].(string), out["token"].(map[string]any)["id"].(string)
	ci := &authn.Basic{Username: "will", Password: secret}
	expect(t, "API token pulls", e.pull(ci, "acme/app:v1"), true)
	expect(t, "API token under another name", e.pull(&authn.Basic{Username: "rita", Password: secret}, "acme/app:v1"), false)
	g.must(t, 200, "DELETE", "/v1/tokens/"+id, admin, nil)
	expect(t, "revoked API token pulls", e.pull(ci, "acme/app:v1"), false)

	// A deactivated user is refused.
	g.must(t, 200, "PATCH", "/v1/users/rita", admin, map[string]any{"active": false})
	expect(t, "deactivated user pulls", e.pull(basic("rita"), "acme/app:v1"), false)
	if code, _ := e.rawToken("rita", "rita-password", "repository:acme/app:pull"); code != 401 {
		t.Errorf("token for a deactivated user: %d, want 401", code)
	}
}

// TestRegistryTokenExpiry lets a short-lived token expire and sees the
// registry refuse it. The registry allows 60 s of clock skew past exp,
// so this waits a minute (in parallel with the other tests).
func TestRegistryTokenExpiry(t *testing.T) {
	t.Parallel()
	e := startRegistryEnv(t, "--registry-token-lifetime", "2s")
	e.g.must(t, 200, "POST", "/v1/users", e.admin, map[string]any{"name": "kim", "password": "kim-password"})
	if err := e.push(basic("kim"), "kim/app:v1"); err != nil {
		t.Fatal(err)
	}
	_, out := e.rawToken("kim", "kim-password", "repository:kim/app:pull")
	raw, _ := out["token"].(string)
	if out["expires_in"] != float64(2) || e.registryGet("/v2/kim/app/tags/list", raw) != 200 {
		t.Fatalf("fresh short-lived token: %v", out)
	}
	time.Sleep(2*time.Second + 61*time.Second)
	if code := e.registryGet("/v2/kim/app/tags/list", raw); code != 401 {
		t.Errorf("expired token: %d, want 401", code)
	}
}

// TestRegistryTokens checks the tokens themselves: claims, the
// intersection of asked and held, x5c verification against the root
// bundle only, forged tokens, rotation and RS256, anonymous and OAuth2.
func TestRegistryTokens(t *testing.T) {
	e := startRegistryEnv(t)
	g, admin := e.g, e.admin
	g.must(t, 200, "POST", "/v1/users", admin, map[string]any{"name": "kim", "password": "kim-password"})
	if err := e.push(basic("kim"), "kim/app:v1"); err != nil {
		t.Fatal(err)
	}
	// Asking for more than one holds is not an error: the token grants
	// the intersection. A host:port inside a name parses from both ends.
	code, out := e.rawToken("kim", "kim-password", "repository:kim/app:pull,push,delete", "repository:acme/app:pull",
		"registry:catalog:*", "repository:localhost:5000/kim/x:pull")
	if code != 200 || out["token"] != out["access_token"] || out["expires_in"] != float64(300) || out["issued_at"] == nil {
		t.Fatalf("token: %d %v", code, out)
	}
	raw := out["token"].(string)
	tok, err := token.NewToken(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	rootPEM, err := os.ReadFile(filepath.Join(e.g.dataDir, "registry", "token-root.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)
	// The CLI prints the same root for the registry's rootcertbundle.
	ctl := newCtl(t)
	if out, code := ctl.run(adminPassword+"\n", "login", "--server", g.addr, "--ca-cert", filepath.Join(g.dataDir, "tls", "ca.crt"),
		"-u", "admin", "--password-stdin"); code != 0 {
		t.Fatalf("login: %d %s", code, out)
	}
	if out := ctl.ok("registry", "token-signing", "--root-cert"); out != string(rootPEM) {
		t.Errorf("grantctl registry token-signing --root-cert:\n%s\nwant the file grantd wrote:\n%s", out, rootPEM)
	}
	claims, err := tok.Verify(token.VerifyOptions{TrustedIssuers: []string{"grantd"}, AcceptedAudiences: []string{registryService}, Roots: roots})
	if err != nil {
		t.Fatalf("verify with the root bundle only: %v", err)
	}
	if claims.Subject != "kim" || claims.JWTID == "" || claims.Expiration-claims.IssuedAt != 300 || claims.NotBefore > claims.IssuedAt {
		t.Errorf("claims: %+v", claims)
	}
	if len(claims.Access) != 1 || claims.Access[0].Name != "kim/app" || !slices.Equal(claims.Access[0].Actions, []string{"pull", "push", "delete"}) {
		t.Errorf("access: %+v", claims.Access[0])
	}
	var header struct {
		Alg, Typ string
		X5c      []string
	}
	headerJSON, _ := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	if err := json.Unmarshal(headerJSON, &header); err != nil || header.Alg != "ES256" || header.Typ != "JWT" || len(header.X5c) != 2 {
		t.Errorf("header: %s (%v)", headerJSON, err)
	}
	// The registry takes the token...
	if code := e.registryGet("/v2/kim/app/tags/list", raw); code != 200 {
		t.Errorf("registry with the token: %d", code)
	}
	// ...but not a forged one: a tampered payload, or one signed by
	// another root.
	parts := strings.Split(raw, ".")
	body, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forgedBody := strings.Replace(string(body), `"kim/app"`, `"acme/app"`, 1)
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(forgedBody))
	if code := e.registryGet("/v2/acme/app/tags/list", strings.Join(parts, ".")); code != 401 {
		t.Errorf("tampered token: %d, want 401", code)
	}
	if code := e.registryGet("/v2/kim/app/tags/list", foreignToken(t, string(body))); code != 401 {
		t.Errorf("token of another root: %d, want 401", code)
	}
	// Rotation to RS256: tokens issued before stay valid, new ones are
	// RS256, and the registry (root bundle unchanged) takes both.
	_, out = e.rawToken("kim", "kim-password", "repository:kim/app:pull")
	before := out["token"].(string)
	rot := g.must(t, 200, "POST", "/v1/registry/tokenSigning:rotate", admin, map[string]any{"algorithm": "RS256"})
	if rot["signing"].(map[string]any)["algorithm"] != "RS256" {
		t.Fatalf("rotate: %v", rot)
	}
	_, out = e.rawToken("kim", "kim-password", "repository:kim/app:pull")
	after := out["token"].(string)
	if _, err := token.NewToken(after, []jose.SignatureAlgorithm{jose.RS256}); err != nil {
		t.Errorf("token after rotation is not RS256: %v", err)
	}
	for what, tk := range map[string]string{"before rotation": before, "after rotation": after} {
		if code := e.registryGet("/v2/kim/app/tags/list", tk); code != 200 {
			t.Errorf("token %s: %d", what, code)
		}
	}
	expect(t, "pull with RS256 tokens", e.pull(basic("kim"), "kim/app:v1"), true)

	// Bad credentials are a 401; anonymous gets a token without access.
	if code, _ := e.rawToken("kim", "wrong", "repository:kim/app:pull"); code != 401 {
		t.Errorf("bad password: %d", code)
	}
	code, out = e.rawToken("", "", "repository:kim/app:pull")
	if code != 200 {
		t.Fatalf("anonymous: %d %v", code, out)
	}
	anon, _ := jwt.ParseSigned(out["token"].(string), []jose.SignatureAlgorithm{jose.RS256})
	var ac struct{ Access []any }
	_ = anon.UnsafeClaimsWithoutVerification(&ac)
	if len(ac.Access) != 0 {
		t.Errorf("anonymous access to a private repository: %v", ac.Access)
	}

	// OAuth2: password grant with a refresh token, then the refresh grant.
	form := url.Values{"grant_type": {"password"}, "service": {registryService}, "client_id": {"e2e"},
		"access_type": {"offline"}, "username": {"kim"}, "password": {"kim-password"}, "scope": {"repository:kim/app:pull"}}
	resp := e.postToken(form)
	refresh, _ := resp["refresh_token"].(string)
	if resp["access_token"] == nil || refresh == "" {
		t.Fatalf("oauth password grant: %v", resp)
	}
	resp = e.postToken(url.Values{"grant_type": {"refresh_token"}, "service": {registryService}, "client_id": {"e2e"},
		"refresh_token": {refresh}, "scope": {"repository:kim/app:pull"}})
	if tk, _ := resp["access_token"].(string); tk == "" || e.registryGet("/v2/kim/app/tags/list", tk) != 200 {
		t.Errorf("refresh grant: %v", resp)
	}
	// A refresh token is not an access token.
	if code := e.registryGet("/v2/kim/app/tags/list", refresh); code != 401 {
		t.Errorf("refresh token used as access: %d", code)
	}
}

func (e *registryEnv) postToken(form url.Values) map[string]any {
	e.t.Helper()
	resp, err := (&http.Client{Transport: e.client, Timeout: 20 * time.Second}).PostForm("https://"+e.g.addr+"/auth/token", form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 200 {
		e.t.Fatalf("POST /auth/token: %d %v", resp.StatusCode, out)
	}
	return out
}

// foreignToken signs claims with a root nobody trusts.
func foreignToken(t *testing.T, claims string) string {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mallory"}, IsCA: true,
		BasicConstraintsValid: true, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("x5c", []string{base64.StdEncoding.EncodeToString(der)})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	_ = json.Unmarshal([]byte(claims), &c)
	c["exp"] = time.Now().Add(time.Hour).Unix()
	raw, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
