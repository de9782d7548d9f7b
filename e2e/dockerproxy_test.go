package e2e

import (
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// proxyEnv is a grantd serving the engine API proxy in front of the
// package's real dockerd.
type proxyEnv struct {
	t     *testing.T
	g     *grantd
	admin string
	d     *realDockerd
}

func startProxyEnv(t *testing.T, engine string) *proxyEnv {
	t.Helper()
	d := sharedDockerd(t)
	if engine == "" {
		engine = "unix://" + d.sock
	}
	dir := t.TempDir()
	// Any free port: bundles carry the address grantd really listens on.
	g := start(t, filepath.Join(dir, "data"), "--engine-proxy-listen", "127.0.0.1:0", "--engine-api", engine,
		"--engine-lookup-cache", "100ms")
	return &proxyEnv{t: t, g: g, admin: g.login(t), d: d}
}

// user creates an account (a system admin with admin) and returns the
// docker CLI configured with a bundle of theirs.
func (e *proxyEnv) user(name string, admin bool) (*dockerUser, string) {
	e.t.Helper()
	e.g.must(e.t, 200, "POST", "/v1/users", e.admin, map[string]any{"name": name, "password": name + "-password-1", "isAdmin": admin})
	token := e.g.must(e.t, 200, "POST", "/auth/login", "", map[string]string{"username": name, "password": name + "-password-1"})["auth_token"].(string)
	out := e.g.must(e.t, 200, "POST", "/v1/bundles", token, map[string]any{"label": "e2e"})
	raw, err := base64.StdEncoding.DecodeString(out["zip"].(string))
	if err != nil {
		e.t.Fatal(err)
	}
	return bundleCLI(e.t, raw), out["bundle"].(map[string]any)["serial"].(string)
}

// TestDockerCLIThroughTheProxy is a restricted user's real docker session
// through grantd's engine proxy, against a real dockerd, with the bundles
// grantd issues: lists show exactly what each caller may view, unlabelled
// objects are usable by their creator afterwards, streams and attach work,
// options are refused by name, and revoked or inactive callers and a
// missing engine are refused with the reason (issue 18).
func TestDockerCLIThroughTheProxy(t *testing.T) {
	e := startProxyEnv(t, "")
	e.g.must(t, 200, "POST", "/v1/collections", e.admin, map[string]any{"path": "/prod"})
	e.g.must(t, 200, "POST", "/v1/collections", e.admin, map[string]any{"path": "/other"})
	maria, _ := e.user("maria", false)
	e.g.must(t, 200, "POST", "/v1/grants", e.admin, map[string]any{"subject": "user:maria", "role": "restrictedcontrol", "object": "collection:/prod"})
	paolo, paoloSerial := e.user("paolo", false)
	boss, _ := e.user("boss", true)
	suffix := fmt.Sprint(time.Now().UnixNano())
	name := func(s string) string { return s + "-" + suffix }
	defer func() { _, _ = e.d.docker("rm", "-f", name("m-prod"), name("m-priv"), name("b-other")) }()

	// An admin's container in /other, which maria and paolo may not see.
	boss.ok("run", "-d", "--name", name("b-other"), "--label", "com.docker.ucp.access.label=/other", testImage, "sleep")

	// maria: run with attach (hijacked), detached with logs, unlabelled
	// objects that stay hers, options refused by name.
	if out := maria.ok("run", "--rm", "-i", testImage); !strings.Contains(out, "hello from grantd's test image") {
		t.Errorf("docker run --rm -i: %s", out)
	}
	maria.ok("run", "-d", "--name", name("m-prod"), "--label", "com.docker.ucp.access.label=/prod", testImage, "sleep")
	maria.ok("create", "--name", name("m-priv"), testImage) // unlabelled: her private collection
	if out := maria.ok("inspect", "--format", "{{index .Config.Labels \"com.docker.ucp.access.label\"}}", name("m-priv")); strings.TrimSpace(out) != "/Shared/Private/maria" {
		t.Errorf("the unlabelled container's label: %q", out)
	}
	maria.ok("start", name("m-priv"))
	maria.ok("volume", "create", name("vol"))
	if out := maria.ok("volume", "inspect", "--format", "{{index .Labels \"com.docker.ucp.access.label\"}}", name("vol")); strings.TrimSpace(out) != "/Shared/Private/maria" {
		t.Errorf("the unlabelled volume's label: %q", out)
	}
	time.Sleep(1200 * time.Millisecond)
	if out := maria.ok("logs", name("m-prod")); !strings.Contains(out, "tick 1") {
		t.Errorf("docker logs: %s", out)
	}
	maria.refused([]string{"container.exec", "/prod"}, "exec", name("m-prod"), "/hello")
	maria.refused([]string{"privileged"}, "run", "--rm", "--privileged", "--label", "com.docker.ucp.access.label=/prod", testImage)
	maria.refused([]string{"host_bind_mounts"}, "run", "--rm", "-v", "/etc:/host", "--label", "com.docker.ucp.access.label=/prod", testImage)
	maria.refused([]string{"kernel_capabilities"}, "run", "--rm", "--cap-add", "NET_ADMIN", "--label", "com.docker.ucp.access.label=/prod", testImage)
	maria.refused([]string{"container.create", "/other"}, "create", "--label", "com.docker.ucp.access.label=/other", testImage)
	maria.refused([]string{"/other"}, "inspect", name("b-other"))

	// Lists: exactly what each caller may view.
	ps := func(u *dockerUser) string { return u.ok("ps", "-a", "--format", "{{.Names}}") }
	if got := ps(maria); !strings.Contains(got, name("m-prod")) || !strings.Contains(got, name("m-priv")) || strings.Contains(got, name("b-other")) {
		t.Errorf("maria's docker ps -a:\n%s", got)
	}
	if got := ps(paolo); strings.TrimSpace(got) != "" {
		t.Errorf("paolo, who holds no grant, sees containers:\n%s", got)
	}
	if got := ps(boss); !strings.Contains(got, name("b-other")) || !strings.Contains(got, name("m-prod")) {
		t.Errorf("the admin's docker ps -a:\n%s", got)
	}
	if got := maria.ok("volume", "ls", "-q"); !strings.Contains(got, name("vol")) {
		t.Errorf("maria's volume ls:\n%s", got)
	}
	if got := paolo.ok("volume", "ls", "-q"); strings.TrimSpace(got) != "" {
		t.Errorf("paolo's volume ls:\n%s", got)
	}
	if got := paolo.ok("images", "-q"); strings.TrimSpace(got) != "" {
		t.Errorf("paolo's images (image.view on / is not his):\n%s", got)
	}

	// Events: only what the caller may view.
	since := time.Now().Add(-5 * time.Minute).Unix()
	until := time.Now().Add(time.Second).Unix()
	events := func(u *dockerUser) string {
		return u.ok("events", "--since", fmt.Sprint(since), "--until", fmt.Sprint(until), "--format", "{{.Type}} {{.Actor.Attributes.name}}")
	}
	if got := events(maria); !strings.Contains(got, name("m-prod")) || strings.Contains(got, name("b-other")) {
		t.Errorf("maria's events:\n%s", got)
	}
	if got := events(paolo); strings.Contains(got, name("m-prod")) || strings.Contains(got, name("b-other")) {
		t.Errorf("paolo's events:\n%s", got)
	}

	// Streams and archives: stats, cp out of the container, export.
	if out := maria.ok("stats", "--no-stream", "--format", "{{.Name}}", name("m-prod")); !strings.Contains(out, name("m-prod")) {
		t.Errorf("docker stats: %s", out)
	}
	cpDir := t.TempDir()
	maria.ok("cp", name("m-prod")+":/hello", filepath.Join(cpDir, "hello"))
	maria.ok("export", "-o", filepath.Join(cpDir, "fs.tar"), name("m-prod"))

	// Swarm: a secret and a service that uses it by name, both unlabelled
	// (so both in her private collection); the CLI looks the secret up by
	// listing secrets, and lists the service's tasks.
	if out, err := e.d.docker("swarm", "init", "--advertise-addr", "127.0.0.1"); err != nil && !strings.Contains(out, "already part of a swarm") {
		t.Fatalf("swarm init: %v %s", err, out)
	}
	if out, code := maria.run("s3cret", "secret", "create", name("sec"), "-"); code != 0 {
		t.Fatalf("secret create: %s", out)
	}
	maria.ok("service", "create", "--detach", "--name", name("svc"), "--secret", name("sec"), testImage, "sleep")
	defer func() { _, _ = e.d.docker("service", "rm", name("svc")) }()
	running := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !running; time.Sleep(300 * time.Millisecond) {
		running = strings.Contains(maria.ok("service", "ps", "--format", "{{.CurrentState}}", name("svc")), "Running")
	}
	if !running {
		t.Errorf("the service's task never ran: %s", maria.ok("service", "ps", "--no-trunc", name("svc")))
	}
	if got := paolo.ok("service", "ls", "-q"); strings.TrimSpace(got) != "" {
		t.Errorf("paolo's service ls:\n%s", got)
	}
	if got := paolo.ok("secret", "ls", "-q"); strings.TrimSpace(got) != "" {
		t.Errorf("paolo's secret ls:\n%s", got)
	}
	maria.ok("service", "rm", name("svc"))
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if _, code := maria.run("", "secret", "rm", name("sec")); code == 0 {
			break // the secret is free once the service's task is gone
		}
	}

	// Her objects stay usable: stop, remove.
	maria.ok("rm", "-f", name("m-prod"), name("m-priv"))
	maria.ok("volume", "rm", name("vol"))

	// A revoked bundle and an inactive account are refused.
	e.g.must(t, 200, "DELETE", "/v1/bundles/"+paoloSerial, e.admin, nil)
	paolo.refused([]string{"revoked"}, "ps")
	e.g.must(t, 200, "PATCH", "/v1/users/maria", e.admin, map[string]any{"active": false})
	maria.refused([]string{"inactive"}, "ps")
}

// TestProxyRefusesWhenTheEngineIsDown: an engine that cannot be reached is
// a refusal with the reason, never a pass.
func TestProxyRefusesWhenTheEngineIsDown(t *testing.T) {
	e := startProxyEnv(t, "unix://"+filepath.Join(t.TempDir(), "no-engine.sock"))
	e.g.must(t, 200, "POST", "/v1/collections", e.admin, map[string]any{"path": "/prod"})
	u, _ := e.user("maria", false)
	e.g.must(t, 200, "POST", "/v1/grants", e.admin, map[string]any{"subject": "user:maria", "role": "restrictedcontrol", "object": "collection:/prod"})
	out, code := u.run("", "ps")
	if code == 0 || !strings.Contains(out, "cannot be reached") {
		t.Errorf("docker ps with the engine down: exit %d\n%s", code, out)
	}
	out, code = u.run("", "inspect", "anything")
	if code == 0 || !strings.Contains(out, "grantd") {
		t.Errorf("docker inspect with the engine down: exit %d\n%s", code, out)
	}
}

// TestBundleFindsAnEndpointThatAnswers: a bundle given several engine
// endpoints (one per manager, say) points the real docker CLI at the
// first that answers: here the second, the first being down.
func TestBundleFindsAnEndpointThatAnswers(t *testing.T) {
	d := sharedDockerd(t)
	free := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	down, proxy := free(), free()
	g := start(t, filepath.Join(t.TempDir(), "data"), "--engine-proxy-listen", proxy, "--engine-api", "unix://"+d.sock,
		"--bundle-docker-host", "tcp://"+down+",tcp://"+proxy)
	e := &proxyEnv{t: t, g: g, admin: g.login(t), d: d}
	u, _ := e.user("maria", false)
	if !slices.Contains(u.env, "DOCKER_HOST=tcp://"+proxy) {
		t.Fatalf("env.sh chose %v, want tcp://%s (tcp://%s is down)", u.env, proxy, down)
	}
	u.ok("ps")
}

// TestDockerCLIStreamsThroughTheProxy: what the CLI does on hijacked and
// streamed connections works through the proxy — exec and run with a
// terminal (stdin, tty and resize; the terminal is script(1)'s), logs -f,
// cp in both directions, build with its context upload, save and load,
// and a pull whose registry answer is the engine's own, not grantd's.
func TestDockerCLIStreamsThroughTheProxy(t *testing.T) {
	e := startProxyEnv(t, "")
	e.g.must(t, 200, "POST", "/v1/collections", e.admin, map[string]any{"path": "/prod"})
	fc, _ := e.user("fc", false)
	e.g.must(t, 200, "POST", "/v1/grants", e.admin, map[string]any{"subject": "user:fc", "role": "fullcontrol", "object": "collection:/prod"})
	boss, _ := e.user("boss", true)
	c := "fc-" + fmt.Sprint(time.Now().UnixNano())
	defer func() { _, _ = e.d.docker("rm", "-f", c) }()
	fc.ok("run", "-d", "--name", c, "--label", "com.docker.ucp.access.label=/prod", testImage, "sleep")

	withTTY := func(u *dockerUser, cmdline string) string {
		t.Helper()
		out, code := u.runProgram("script", "-qec", dockerCLI+" "+cmdline, "/dev/null")
		if code != 0 {
			t.Errorf("%s with a terminal: exit %d\n%s", cmdline, code, out)
		}
		return out
	}
	if out := withTTY(fc, "exec -it "+c+" /hello"); !strings.Contains(out, "hello from grantd's test image") {
		t.Errorf("docker exec -it: %q", out)
	}
	if out := withTTY(fc, "run --rm -it --label com.docker.ucp.access.label=/prod "+testImage); !strings.Contains(out, "hello from grantd's test image") {
		t.Errorf("docker run -it: %q", out)
	}
	if out, _ := fc.runProgram("timeout", "3", dockerCLI, "logs", "-f", c); !strings.Contains(out, "tick 2") {
		t.Errorf("docker logs -f: %q", out)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.txt"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fc.ok("cp", filepath.Join(dir, "in.txt"), c+":/in.txt")
	fc.ok("cp", c+":/in.txt", filepath.Join(dir, "back.txt"))
	if b, err := os.ReadFile(filepath.Join(dir, "back.txt")); err != nil || string(b) != "from the host\n" {
		t.Errorf("docker cp round trip: %q %v", b, err)
	}

	// The admin builds (the context goes up through the proxy), saves and loads.
	ctxDir := filepath.Join(dir, "build")
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM "+testImage+"\nLABEL built=through-grantd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := c + "-built"
	defer func() { _, _ = e.d.docker("rmi", "-f", tag) }()
	boss.env = append(boss.env, "DOCKER_BUILDKIT=0")
	boss.ok("build", "-q", "-t", tag, ctxDir)
	boss.ok("save", "-o", filepath.Join(dir, "img.tar"), tag)
	boss.ok("rmi", tag)
	if out := boss.ok("load", "-i", filepath.Join(dir, "img.tar")); !strings.Contains(out, tag) {
		t.Errorf("docker load: %s", out)
	}
	out, code := boss.run("", "pull", "127.0.0.1:1/nothing:1")
	if code == 0 || strings.Contains(out, "grantd") || !strings.Contains(out, "127.0.0.1:1") {
		t.Errorf("a pull from an unreachable registry should fail in the engine, not in grantd: exit %d\n%s", code, out)
	}
	// fc may not build: image.build is decided on /.
	fc.refused([]string{"image.build"}, "build", "-q", ctxDir)
}
