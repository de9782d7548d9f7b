package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/authorization"
)

// engineEnv is a real grantd serving the engine plugin, and a daemon made
// of the Docker engine's own authorization middleware
// (github.com/docker/docker/pkg/authorization), which discovers the plugin
// by name under /run/docker/plugins exactly as dockerd does, wrapped
// around an in-memory stand-in for the engine's handlers. Clients are the
// Docker Go client with the bundles grantd issues.
type engineEnv struct {
	t       *testing.T
	g       *grantd
	admin   string
	dir     string
	daemon  string // host:port of the daemon's TLS endpoint
	engine  *fakeEngine
	plugin  string // plugin name
	rogueCA *x509.Certificate
	rogueK  *ecdsa.PrivateKey
}

func startEngineEnv(t *testing.T) *engineEnv {
	t.Helper()
	dir := t.TempDir()
	e := &engineEnv{t: t, dir: dir, engine: newFakeEngine()}
	// The daemon's server certificate comes from its own CA, which bundles
	// carry as ca.pem (--bundle-docker-ca).
	daemonCA, daemonCAKey := newCA(t, "daemon CA")
	writePEM(t, filepath.Join(dir, "daemon-ca.pem"), "CERTIFICATE", daemonCA.Raw)
	serverCert := issue(t, daemonCA, daemonCAKey, "localhost")
	// A second CA the daemon also trusts: grantd must refuse its
	// certificates even though the TLS handshake accepts them.
	e.rogueCA, e.rogueK = newCA(t, "rogue CA")

	daemonLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(daemonLn.Addr().String())
	e.daemon = "localhost:" + port
	engineSock := filepath.Join(dir, "engine.sock")

	// The plugin socket lives where dockerd looks for plugins by name.
	var nb [6]byte
	_, _ = rand.Read(nb[:])
	e.plugin = fmt.Sprintf("grantd-e2e-%x", nb)
	pluginSock := filepath.Join("/run/docker/plugins", e.plugin+".sock")
	t.Cleanup(func() { _ = os.Remove(pluginSock) })

	e.g = start(t, filepath.Join(dir, "data"), "--engine-plugin", "--engine-plugin-socket", pluginSock,
		"--engine-api", "unix://"+engineSock, "--engine-lookup-cache", "200ms",
		"--engine-plugin-tcp", "127.0.0.1:0", "--engine-plugin-spec", filepath.Join(dir, "grantd.json"),
		"--bundle-docker-host", "tcp://"+e.daemon, "--bundle-docker-ca", filepath.Join(dir, "daemon-ca.pem"))
	e.admin = e.g.login(t)

	// The daemon: client certificates from grantd's client CA (the file
	// grantd writes for dockerd --tlscacert) or the rogue CA.
	clientCAs := x509.NewCertPool()
	caPEM, err := os.ReadFile(filepath.Join(dir, "data", "engine", "client-ca.pem"))
	if err != nil || !clientCAs.AppendCertsFromPEM(caPEM) {
		t.Fatalf("grantd's client CA file: %v", err)
	}
	clientCAs.AddCert(e.rogueCA)
	mw := authorization.NewMiddleware([]string{e.plugin}, nil)
	handler := daemonHandler(mw, e.engine)
	tlsLn := tls.NewListener(daemonLn, &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: clientCAs,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(tlsLn) }()
	// The daemon's local socket, through which the plugin's resolver
	// inspects objects: also behind the middleware, as in dockerd.
	unixLn, err := net.Listen("unix", engineSock)
	if err != nil {
		t.Fatal(err)
	}
	local := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = local.Serve(unixLn) }()
	t.Cleanup(func() { _ = srv.Close(); _ = local.Close() })
	return e
}

// daemonHandler is what dockerd does around each API handler: the
// authorization middleware, then the handler; a plugin denial becomes a
// 403 with the plugin's message.
func daemonHandler(mw *authorization.Middleware, engine http.Handler) http.Handler {
	wrapped := mw.WrapHandler(func(_ context.Context, w http.ResponseWriter, r *http.Request, _ map[string]string) error {
		engine.ServeHTTP(w, r)
		return nil
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := wrapped(r.Context(), w, r, nil); err != nil {
			status := http.StatusInternalServerError
			var forbidden interface{ Forbidden() }
			if errors.As(err, &forbidden) {
				status = http.StatusForbidden
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"message": err.Error()})
		}
	})
}

// fakeEngine stands in for the engine's handlers: it records created
// objects with their labels and answers inspects the way dockerd does.
type fakeEngine struct {
	mu      sync.Mutex
	n       int
	objects map[string]map[string]any // kind/id -> inspect output
	execs   map[string]string         // exec ID -> container ID
}

func newFakeEngine() *fakeEngine {
	return &fakeEngine{objects: map[string]map[string]any{}, execs: map[string]string{}}
}

var apiVersion = regexp.MustCompile(`^/v[0-9.]+`)

func (f *fakeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := apiVersion.ReplaceAllString(r.URL.Path, "")
	parts := strings.Split(strings.Trim(p, "/"), "/")
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Api-Version", "1.51")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	newID := func() string { f.n++; return fmt.Sprintf("%064x", f.n) }
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	labels := func() any {
		if l, ok := body["Labels"]; ok {
			return l
		}
		return map[string]any{}
	}
	switch {
	case p == "/_ping":
		w.Header().Set("Api-Version", "1.51")
		_, _ = w.Write([]byte("OK"))
	case r.Method == "POST" && p == "/containers/create":
		id := newID()
		f.objects["containers/"+id] = map[string]any{"Id": id, "Config": map[string]any{"Labels": labels()}}
		reply(201, map[string]any{"Id": id, "Warnings": []string{}})
	case r.Method == "POST" && len(parts) == 3 && parts[0] == "containers" && parts[2] == "exec":
		id := newID()
		f.execs[id] = parts[1]
		reply(201, map[string]any{"Id": id})
	case r.Method == "GET" && len(parts) == 3 && parts[0] == "exec" && parts[2] == "json":
		c, ok := f.execs[parts[1]]
		if !ok {
			reply(404, map[string]string{"message": "no such exec instance"})
			return
		}
		reply(200, map[string]any{"ID": parts[1], "ContainerID": c})
	case r.Method == "POST" && (p == "/secrets/create" || p == "/services/create"):
		id := newID()
		kind := strings.TrimSuffix(parts[0], "/create")
		f.objects[kind+"/"+id] = map[string]any{"ID": id, "Spec": map[string]any{"Labels": labels(), "Name": body["Name"]}}
		reply(201, map[string]any{"ID": id})
	case r.Method == "GET" && len(parts) >= 2 && (parts[0] == "containers" || parts[0] == "secrets" || parts[0] == "services"):
		if parts[1] == "broken" {
			reply(500, map[string]string{"message": "engine failure"})
			return
		}
		if parts[0] == "containers" && parts[1] == "json" {
			reply(200, []any{})
			return
		}
		obj, ok := f.objects[parts[0]+"/"+parts[1]]
		if !ok {
			reply(404, map[string]string{"message": "No such object: " + parts[1]})
			return
		}
		reply(200, obj)
	default:
		reply(200, map[string]any{})
	}
}

// bundleUser is an account with the files of one of its bundles.
type bundleUser struct {
	name, token string
	dir         string // key.pem, cert.pem, ca.pem
	serial      string
	docker      *client.Client
}

// user creates a user, logs them in and fetches a bundle over REST.
func (e *engineEnv) user(name string) *bundleUser {
	e.t.Helper()
	e.g.must(e.t, 200, "POST", "/v1/users", e.admin, map[string]any{"name": name, "password": name + "-password-1"})
	out := e.g.must(e.t, 200, "POST", "/auth/login", "", map[string]string{"username": name, "password": name + "-password-1"})
	u := &bundleUser{name: name, token: out["auth_token"].(string)}
	e.bundle(u, u.token, "")
	return u
}

// bundle creates a bundle with token (for owner, or the caller) and
// unpacks it for u.
func (e *engineEnv) bundle(u *bundleUser, token, owner string) {
	e.t.Helper()
	out := e.g.must(e.t, 200, "POST", "/v1/bundles", token, map[string]any{"owner": owner, "label": "e2e"})
	raw, err := base64.StdEncoding.DecodeString(out["zip"].(string))
	if err != nil {
		e.t.Fatal(err)
	}
	u.serial = out["bundle"].(map[string]any)["serial"].(string)
	u.dir = filepath.Join(e.dir, "bundles", u.serial)
	unzip(e.t, raw, u.dir)
	u.docker = e.dockerClient(u.dir)
}

func (e *engineEnv) dockerClient(dir string) *client.Client {
	e.t.Helper()
	c, err := client.NewClientWithOpts(client.WithHost("tcp://"+e.daemon), client.WithVersion("1.51"),
		client.WithTLSClientConfig(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = c.Close() })
	return c
}

func unzip(t testing.TB, raw []byte, dir string) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(names, ",") != "key.pem,cert.pem,ca.pem,env.sh,env.ps1" {
		t.Fatalf("bundle files %v", names)
	}
}

// expect checks an engine call's outcome: allowed, or denied by grantd
// with a message containing reason.
func expectEngine(t *testing.T, what string, err error, allowed bool, reason string) {
	t.Helper()
	switch {
	case allowed && err != nil:
		t.Errorf("%s: denied, want allowed: %v", what, err)
	case !allowed && err == nil:
		t.Errorf("%s: allowed, want denied", what)
	case !allowed && !strings.Contains(err.Error(), "authorization denied by plugin") && !strings.Contains(err.Error(), "grantd"):
		t.Errorf("%s: failed but not by the plugin: %v", what, err)
	case !allowed && !strings.Contains(err.Error(), reason):
		t.Errorf("%s: denial %q does not say %q", what, err, reason)
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newCA(t *testing.T, cn string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func issueDER(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{cn}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func issue(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der := issueDER(t, ca, caKey, cn, key)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
