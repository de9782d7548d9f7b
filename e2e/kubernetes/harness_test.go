package kubernetes

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The programs under test, built by TestMain: grantd and grantctl from the
// repository's main module, kube-apiserver and kubectl from Kubernetes'
// own module (tools.go pins it), and Debian's etcd, which make test
// installs (scripts/test-deps.sh).
var grantdBin, grantctlBin, apiserverBin, kubectlBin string

const (
	etcdBin       = "/usr/bin/etcd"
	adminPassword = "kube-e2e-admin-password"
	// kubeVersion is stamped into the binaries: without a version kubectl
	// refuses the server's.
	kubeVersion = "v1.34.4"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "grantd-kube-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	if err := build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func build(dir string) error {
	if _, err := os.Stat(etcdBin); err != nil {
		return fmt.Errorf("%s is missing: make test installs Debian's etcd-server (scripts/test-deps.sh): %w", etcdBin, err)
	}
	grantdBin, grantctlBin = filepath.Join(dir, "grantd"), filepath.Join(dir, "grantctl")
	apiserverBin, kubectlBin = filepath.Join(dir, "kube-apiserver"), filepath.Join(dir, "kubectl")
	ours := exec.Command("go", "build", "-o", dir+"/", "./cmd/grantd", "./cmd/grantctl")
	ours.Dir = "../.."
	var ldflags []string
	for k, v := range map[string]string{
		"k8s.io/component-base/version.gitVersion":   kubeVersion,
		"k8s.io/component-base/version.gitMajor":     "1",
		"k8s.io/component-base/version.gitMinor":     "34",
		"k8s.io/component-base/version.gitTreeState": "clean",
		"k8s.io/client-go/pkg/version.gitVersion":    kubeVersion,
		"k8s.io/client-go/pkg/version.gitMajor":      "1",
		"k8s.io/client-go/pkg/version.gitMinor":      "34",
	} {
		ldflags = append(ldflags, "-X", k+"="+v)
	}
	kube := exec.Command("go", "build", "-o", dir+"/", "-ldflags", strings.Join(ldflags, " "),
		"k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kubectl")
	for _, c := range []*exec.Cmd{ours, kube} {
		start := time.Now()
		if out, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", strings.Join(c.Args, " "), err, out)
		}
		fmt.Fprintf(os.Stderr, "built %s in %s\n", c.Args[len(c.Args)-1], time.Since(start).Round(time.Second))
	}
	return nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// grantd is a running grantd with an admin's grantctl logged in.
type grantd struct {
	t      *testing.T
	dir    string
	addr   string // 127.0.0.1:port
	ca     string // the CA of its serving certificate
	config string // grantctl's config file (the admin's session)
	logs   *syncBuffer
}

func startGrantd(t *testing.T) *grantd {
	t.Helper()
	g := &grantd{t: t, dir: t.TempDir(), logs: &syncBuffer{}}
	cmd := exec.Command(grantdBin, "--data-dir", filepath.Join(g.dir, "data"), "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "GRANTD_ADMIN_PASSWORD="+adminPassword)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			fmt.Fprintln(g.logs, sc.Text())
			var entry struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &entry) == nil && entry.Msg == "serving" {
				addrc <- entry.Addr
			}
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	select {
	case g.addr = <-addrc:
	case <-time.After(60 * time.Second):
		t.Fatalf("grantd did not serve within 60s:\n%s", g.logs)
	}
	g.ca = filepath.Join(g.dir, "data", "tls", "ca.crt")
	g.config = filepath.Join(g.dir, "grantctl.json")
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := g.grantctl(adminPassword+"\n", "login", "--server", g.addr, "--ca-cert", g.ca, "-u", "admin", "--password-stdin")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("grantctl login: %v\n%s\n%s", err, out, g.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return g
}

// grantctl runs the admin's grantctl with stdin and returns its output.
func (g *grantd) grantctl(stdin string, args ...string) (string, error) {
	cmd := exec.Command(grantctlBin, append([]string{"--config", g.config}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String() + errb.String(), err
	}
	return out.String(), nil
}

// ok runs a grantctl command that must succeed; its stdout is returned.
func (g *grantd) ok(args ...string) string {
	g.t.Helper()
	out, err := g.grantctl("", args...)
	if err != nil {
		g.t.Fatalf("grantctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// user creates a local user.
func (g *grantd) user(name string) {
	g.t.Helper()
	if out, err := g.grantctl(name+"-password\n", "users", "create", name, "--password-stdin"); err != nil {
		g.t.Fatalf("users create %s: %v\n%s", name, err, out)
	}
}

// grant creates a grant and returns its ID.
func (g *grantd) grant(subject, role, object string) string {
	g.t.Helper()
	out := g.ok("grants", "create", subject, role, object)
	var id string
	if _, err := fmt.Sscanf(out, "Created grant %s", &id); err != nil {
		g.t.Fatalf("grants create printed %q", out)
	}
	return id
}

// webhookFiles writes what kube-apiserver needs to ask grantd, made by
// grantctl as an operator would: the webhook kubeconfig (with a new token
// of service account kube-apiserver), the AdmissionConfiguration naming
// it, and the ValidatingWebhookConfiguration.
func (g *grantd) webhookFiles(dir string) (kubeconfig, admissionConfig, validating string) {
	g.t.Helper()
	g.ok("serviceaccounts", "create", "kube-apiserver", "--capability", "authorize")
	url := "https://localhost:" + port(g.addr)
	kubeconfig = filepath.Join(dir, "grantd-webhook.kubeconfig")
	admissionConfig = filepath.Join(dir, "admission.yaml")
	validating = filepath.Join(dir, "grantd-validating.yaml")
	for path, args := range map[string][]string{
		kubeconfig:      {"kubernetes", "webhook-config", "--service-account", "kube-apiserver", "--url", url},
		admissionConfig: {"kubernetes", "admission-config", "--plugin-config", kubeconfig},
		validating:      {"kubernetes", "admission-config", "--url", url},
	} {
		if err := os.WriteFile(path, []byte(g.ok(args...)), 0o600); err != nil {
			g.t.Fatal(err)
		}
	}
	return kubeconfig, admissionConfig, validating
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return port(ln.Addr().String())
}

// process starts a long-running program whose output goes to logs; it is
// killed when the test ends.
func process(t *testing.T, logs *syncBuffer, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// cluster is a kube-apiserver on Debian's etcd, with grantd as its
// authorization webhook (before RBAC) and validating admission webhook.
// Users authenticate with static tokens: token i of users is users[i]-token.
type cluster struct {
	t      *testing.T
	server string // https://127.0.0.1:port
	dir    string
	logs   *syncBuffer
}

// tokenUser is a line of kube-apiserver's --token-auth-file.
type tokenUser struct{ name, groups string }

func startCluster(t *testing.T, g *grantd, users []tokenUser) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir(), logs: &syncBuffer{}}
	etcdClient, etcdPeer := "http://127.0.0.1:"+freePort(t), "http://127.0.0.1:"+freePort(t)
	process(t, c.logs, etcdBin, "--data-dir", filepath.Join(c.dir, "etcd"), "--name", "e2e",
		"--listen-client-urls", etcdClient, "--advertise-client-urls", etcdClient,
		"--listen-peer-urls", etcdPeer, "--initial-advertise-peer-urls", etcdPeer,
		"--initial-cluster", "e2e="+etcdPeer, "--log-level", "warn")

	var tokens strings.Builder
	for i, u := range append([]tokenUser{{"cluster-admin", "system:masters"}}, users...) {
		fmt.Fprintf(&tokens, "%s-token,%s,uid-%d,%q\n", u.name, u.name, i, u.groups)
	}
	tokenFile := filepath.Join(c.dir, "tokens.csv")
	saKey := filepath.Join(c.dir, "sa.key")
	writeKey(t, saKey)
	if err := os.WriteFile(tokenFile, []byte(tokens.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	kubeconfig, admissionConfig, validating := g.webhookFiles(c.dir)
	apiPort := freePort(t)
	c.server = "https://127.0.0.1:" + apiPort
	process(t, c.logs, apiserverBin,
		"--etcd-servers", etcdClient,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", apiPort,
		"--cert-dir", filepath.Join(c.dir, "certs"),
		"--token-auth-file", tokenFile,
		"--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", saKey,
		"--service-account-signing-key-file", saKey, "--service-cluster-ip-range", "10.96.0.0/24",
		// Privileged pods are the cluster's to allow and grantd's to decide.
		"--allow-privileged=true",
		"--authorization-mode", "Webhook,RBAC",
		"--authorization-webhook-config-file", kubeconfig, "--authorization-webhook-version", "v1",
		"--authorization-webhook-cache-authorized-ttl", "0s", "--authorization-webhook-cache-unauthorized-ttl", "0s",
		"--admission-control-config-file", admissionConfig,
		// No controller-manager makes the default service accounts.
		"--disable-admission-plugins", "ServiceAccount",
		"--enable-priority-and-fairness=false")
	deadline := time.Now().Add(3 * time.Minute)
	for {
		out, err := c.kubectl("cluster-admin", "get", "--raw", "/readyz")
		if err == nil && strings.TrimSpace(out) == "ok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kube-apiserver not ready: %v %s\n%s", err, out, tail(c.logs.String(), 6000))
		}
		time.Sleep(time.Second)
	}
	c.ok("cluster-admin", "apply", "-f", validating)
	return c
}

func writeKey(t *testing.T, path string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der := x509.MarshalPKCS1PrivateKey(key)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// kubectl runs the real kubectl as user (with their static token).
func (c *cluster) kubectl(user string, args ...string) (string, error) {
	return c.kubectlIn(user, "", args...)
}

func (c *cluster) kubectlIn(user, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := []string{"--server", c.server, "--insecure-skip-tls-verify", "--token", user + "-token", "--request-timeout", "30s"}
	cmd := exec.CommandContext(ctx, kubectlBin, append(base, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(c.dir, "no-kubeconfig"), "HOME="+c.dir)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// ok runs kubectl as user and fails the test unless it succeeds.
func (c *cluster) ok(user string, args ...string) string {
	c.t.Helper()
	out, err := c.kubectl(user, args...)
	if err != nil {
		c.t.Fatalf("kubectl %s as %s: %v\n%s", strings.Join(args, " "), user, err, out)
	}
	return out
}

// refused runs kubectl as user, which must fail with every part of want
// in its output.
func (c *cluster) refused(user, stdin string, args []string, want ...string) {
	c.t.Helper()
	out, err := c.kubectlIn(user, stdin, args...)
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		c.t.Fatalf("kubectl %s as %s succeeded (%v), want a refusal:\n%s", strings.Join(args, " "), user, err, out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			c.t.Fatalf("kubectl %s as %s: %q missing from:\n%s", strings.Join(args, " "), user, w, out)
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
