package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/pkg/authorization"
	"github.com/docker/docker/pkg/plugins"
	"github.com/docker/go-connections/tlsconfig"
)

// TestEnginePluginOptionMatrix: the daemon middleware, pointed at grantd,
// allows and denies exactly per the grants across the option matrix.
func TestEnginePluginOptionMatrix(t *testing.T) {
	e := startEngineEnv(t)
	for _, p := range []string{"/prod", "/other"} {
		e.g.must(t, 200, "POST", "/v1/collections", e.admin, map[string]any{"path": p})
	}
	rc, fc := e.user("rc"), e.user("fc")
	e.g.must(t, 200, "POST", "/v1/grants", e.admin, map[string]any{"subject": "user:rc", "role": "restrictedcontrol", "object": "collection:/prod"})
	e.g.must(t, 200, "POST", "/v1/grants", e.admin, map[string]any{"subject": "user:fc", "role": "fullcontrol", "object": "collection:/prod"})
	ctx := context.Background()
	prod := map[string]string{"com.docker.ucp.access.label": "/prod"}

	type hostCfg = container.HostConfig
	matrix := []struct {
		name string
		host hostCfg
		// option is the option a restricted-control user lacks (empty: allowed).
		option string
	}{
		{"plain", hostCfg{}, ""},
		{"bridge network", hostCfg{NetworkMode: "bridge"}, ""},
		{"privileged", hostCfg{Privileged: true}, "privileged"},
		{"host bind mount", hostCfg{Binds: []string{"/etc:/host-etc:ro"}}, "host_bind_mounts"},
		{"bind mount (Mounts)", hostCfg{Mounts: []mount.Mount{{Type: mount.TypeBind, Source: "/", Target: "/host"}}}, "host_bind_mounts"},
		{"named volume", hostCfg{Binds: []string{"data:/data"}}, ""},
		{"added capabilities", hostCfg{CapAdd: []string{"SYS_ADMIN"}}, "kernel_capabilities"},
		{"host network", hostCfg{NetworkMode: "host"}, "host_networking"},
		{"host IPC", hostCfg{IpcMode: "host"}, "ipc_mode"},
		{"host PID", hostCfg{PidMode: "host"}, "pid_mode"},
		{"host user namespace", hostCfg{UsernsMode: "host"}, "userns_mode"},
	}
	for _, m := range matrix {
		host := m.host
		_, err := rc.docker.ContainerCreate(ctx, &container.Config{Image: "alpine", Labels: prod}, &host, nil, nil, "")
		expectEngine(t, "restricted control: "+m.name, err, m.option == "", m.option)
		host = m.host
		_, err = fc.docker.ContainerCreate(ctx, &container.Config{Image: "alpine", Labels: prod}, &host, nil, nil, "")
		expectEngine(t, "full control: "+m.name, err, true, "")
	}

	// Exec: refused to restricted control, allowed to full control; the
	// exec start is decided on the exec's container, looked up through
	// the engine API.
	own, err := rc.docker.ContainerCreate(ctx, &container.Config{Image: "alpine", Labels: prod}, &container.HostConfig{}, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = rc.docker.ContainerExecCreate(ctx, own.ID, container.ExecOptions{Cmd: []string{"sh"}})
	expectEngine(t, "restricted control: exec", err, false, "container.exec")
	ex, err := fc.docker.ContainerExecCreate(ctx, own.ID, container.ExecOptions{Cmd: []string{"sh"}})
	expectEngine(t, "full control: exec create", err, true, "")
	if err == nil {
		err = fc.docker.ContainerExecStart(ctx, ex.ID, container.ExecStartOptions{Detach: true})
		expectEngine(t, "full control: exec start", err, true, "")
		err = rc.docker.ContainerExecStart(ctx, ex.ID, container.ExecStartOptions{Detach: true})
		expectEngine(t, "restricted control: exec start of another's exec", err, false, "container.exec")
	}
	// Existing objects: their collection comes from their labels.
	_, err = rc.docker.ContainerInspect(ctx, own.ID)
	expectEngine(t, "restricted control: inspect own container", err, true, "")
	other, err := fc.docker.ContainerCreate(ctx, &container.Config{Image: "alpine", Labels: map[string]string{"com.docker.ucp.access.label": "/other"}}, &container.HostConfig{}, nil, nil, "")
	expectEngine(t, "full control on /prod: create in /other", err, false, "/other")
	adminBundle := &bundleUser{name: "admin"}
	e.bundle(adminBundle, e.admin, "")
	other, err = adminBundle.docker.ContainerCreate(ctx, &container.Config{Image: "alpine", Labels: map[string]string{"com.docker.ucp.access.label": "/other"}}, &container.HostConfig{Privileged: true}, nil, nil, "")
	expectEngine(t, "admin: privileged container in /other", err, true, "")
	_, err = fc.docker.ContainerInspect(ctx, other.ID)
	expectEngine(t, "full control on /prod: inspect a container in /other", err, false, "/other")
	err = fc.docker.ContainerStart(ctx, other.ID, container.StartOptions{})
	expectEngine(t, "full control on /prod: start a container in /other", err, false, "container.start")
	// Behind the plugin alone, an unlabelled create is decided on /, where
	// the object would really live (no label is written into it), and the
	// refusal says which label to add or to use the proxy.
	_, err = rc.docker.ContainerCreate(ctx, &container.Config{Image: "alpine"}, &container.HostConfig{}, nil, nil, "")
	expectEngine(t, "restricted control: unlabelled create behind the plugin", err, false, "go through grantd's engine proxy")
	_, err = rc.docker.ContainerCreate(ctx, &container.Config{Image: "alpine",
		Labels: map[string]string{"com.docker.ucp.access.label": "/Shared/Private/rc"}}, &container.HostConfig{}, nil, nil, "")
	expectEngine(t, "restricted control: create labelled with the private collection", err, true, "")

	// Services and secrets.
	secProd, err := fc.docker.SecretCreate(ctx, swarm.SecretSpec{Annotations: swarm.Annotations{Name: "db", Labels: prod}, Data: []byte("x")})
	expectEngine(t, "full control: secret in /prod", err, true, "")
	secOther, err := adminBundle.docker.SecretCreate(ctx, swarm.SecretSpec{Annotations: swarm.Annotations{Name: "other",
		Labels: map[string]string{"com.docker.ucp.access.label": "/other"}}, Data: []byte("x")})
	expectEngine(t, "admin: secret in /other", err, true, "")
	service := func(secretID string, nets ...string) swarm.ServiceSpec {
		s := swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "web", Labels: prod},
			TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "nginx",
				Secrets: []*swarm.SecretReference{{SecretID: secretID, SecretName: "s"}}}}}
		for _, n := range nets {
			s.TaskTemplate.Networks = append(s.TaskTemplate.Networks, swarm.NetworkAttachmentConfig{Target: n})
		}
		return s
	}
	_, err = fc.docker.ServiceCreate(ctx, service(secProd.ID), swarm.ServiceCreateOptions{})
	expectEngine(t, "full control: service with a secret of its collection", err, true, "")
	_, err = fc.docker.ServiceCreate(ctx, service(secOther.ID), swarm.ServiceCreateOptions{})
	expectEngine(t, "full control: service with a secret of another collection", err, false, "service.create")
	_, err = rc.docker.ServiceCreate(ctx, service(secProd.ID, "host"), swarm.ServiceCreateOptions{})
	expectEngine(t, "restricted control: service on the host network", err, false, "host_networking")
	_, err = rc.docker.ServiceCreate(ctx, service(secProd.ID, "bridge"), swarm.ServiceCreateOptions{})
	expectEngine(t, "restricted control: service on the bridge", err, true, "")

	// Lists cannot be filtered by the protocol: they need view on /.
	_, err = fc.docker.ContainerList(ctx, container.ListOptions{})
	expectEngine(t, "full control on /prod: list containers", err, false, "cannot filter")
	_, err = adminBundle.docker.ContainerList(ctx, container.ListOptions{})
	expectEngine(t, "admin: list containers", err, true, "")
	// Admin-only calls.
	_, err = fc.docker.SwarmInspect(ctx)
	expectEngine(t, "full control: swarm inspect (join tokens)", err, false, "system admins only")
	_, err = adminBundle.docker.SwarmInspect(ctx)
	expectEngine(t, "admin: swarm inspect", err, true, "")

	// Objects that cannot be resolved are denied with the reason.
	_, err = fc.docker.ContainerInspect(ctx, "nosuchcontainer")
	expectEngine(t, "unknown container", err, false, "no such object")
	_, err = fc.docker.ContainerInspect(ctx, "broken")
	expectEngine(t, "engine lookup failure", err, false, "cannot be resolved")

	// The decision latency is in the metrics.
	req, _ := http.NewRequest("GET", "https://"+e.g.addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+e.admin)
	resp, err := e.g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	for _, want := range []string{`grantd_engine_plugin_decision_duration_seconds_count{result="allowed"}`,
		`grantd_engine_plugin_decisions_total{operation="container.create",result="denied"}`} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestEnginePluginIdentity: revoked bundles, inactive accounts, foreign
// certificates and requests without a certificate are denied with a
// reason; the grantctl bundle commands work end to end.
func TestEnginePluginIdentity(t *testing.T) {
	e := startEngineEnv(t)
	ctx := context.Background()
	u := e.user("dev")
	_, err := u.docker.Ping(ctx)
	expectEngine(t, "ping with a valid bundle", err, true, "")

	// grantctl: create a bundle, list it, label it, revoke it.
	c := newCtl(t)
	if out, code := c.run("dev-password-1\n", "login", "--server", e.g.addr, "--ca-cert", filepath.Join(e.g.dataDir, "tls", "ca.crt"), "-u", "dev", "--password-stdin"); code != 0 {
		t.Fatalf("login: %d %s", code, out)
	}
	zipPath := filepath.Join(e.dir, "dev-bundle.zip")
	c.ok("bundle", "create", "-o", zipPath, "--label", "laptop")
	if out, code := c.run("", "bundle", "create", "-o", zipPath); code == 0 {
		t.Errorf("bundle create over an existing file succeeded: %s", out)
	}
	raw, err := os.ReadFile(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	cli := &bundleUser{name: "dev", dir: filepath.Join(e.dir, "dev-cli")}
	unzip(t, raw, cli.dir)
	env, _ := os.ReadFile(filepath.Join(cli.dir, "env.sh"))
	if !strings.Contains(string(env), "export DOCKER_HOST='tcp://"+e.daemon+"'") || !strings.Contains(string(env), "DOCKER_TLS_VERIFY=1") {
		t.Errorf("env.sh:\n%s", env)
	}
	cli.docker = e.dockerClient(cli.dir)
	_, err = cli.docker.Ping(ctx)
	expectEngine(t, "ping with the grantctl bundle", err, true, "")
	var listed []struct{ Serial, Label string }
	var list struct {
		Bundles []struct{ Serial, Label string }
	}
	if err := json.Unmarshal([]byte(c.ok("bundle", "list", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	listed = list.Bundles
	if len(listed) != 2 {
		t.Fatalf("bundle list: %+v", listed)
	}
	var cliSerial string
	for _, b := range listed {
		if b.Label == "laptop" {
			cliSerial = b.Serial
		}
	}
	if cliSerial == "" {
		t.Fatalf("no bundle labelled laptop: %+v", listed)
	}
	c.ok("bundle", "label", cliSerial, "old-laptop")
	if !strings.Contains(c.ok("bundle", "list"), "old-laptop") {
		t.Error("relabelled bundle not listed with its new label")
	}
	if out, code := c.run("", "bundle", "list", "--all"); code == 0 {
		t.Errorf("a user listed every account's bundles: %s", out)
	}
	c.ok("bundle", "revoke", cliSerial)
	_, err = cli.docker.Ping(ctx)
	expectEngine(t, "revoked bundle", err, false, "revoked")
	_, err = u.docker.Ping(ctx)
	expectEngine(t, "the user's other bundle still works", err, true, "")
	caOut := c.ok("bundle", "ca")
	fileCA, _ := os.ReadFile(filepath.Join(e.g.dataDir, "engine", "client-ca.pem"))
	if caOut != string(fileCA) {
		t.Error("grantctl bundle ca differs from the client CA file")
	}

	// Another user cannot revoke or see someone else's bundle.
	other := e.user("other")
	e.g.must(t, 404, "DELETE", "/v1/bundles/"+u.serial, other.token, nil)
	e.g.must(t, 403, "GET", "/v1/bundles?owner=user:dev", other.token, nil)

	// An inactive account is refused at once.
	e.g.must(t, 200, "PATCH", "/v1/users/other", e.admin, map[string]any{"active": false})
	_, err = other.docker.Ping(ctx)
	expectEngine(t, "inactive account", err, false, "inactive")

	// Certificates the daemon accepts but grantd did not issue.
	for _, cn := range []string{"dev", "nobody"} {
		dir := filepath.Join(e.dir, "rogue-"+cn)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der := issueDER(t, e.rogueCA, e.rogueK, cn, key)
		writePEM(t, filepath.Join(dir, "cert.pem"), "CERTIFICATE", der)
		kb, _ := x509.MarshalPKCS8PrivateKey(key)
		writePEM(t, filepath.Join(dir, "key.pem"), "PRIVATE KEY", kb)
		ca, _ := os.ReadFile(filepath.Join(u.dir, "ca.pem"))
		_ = os.WriteFile(filepath.Join(dir, "ca.pem"), ca, 0o600)
		_, err := e.dockerClient(dir).Ping(ctx)
		expectEngine(t, "certificate of another CA with CN "+cn, err, false, "not issued by grantd")
	}

	// A service account bundle made by an admin; the TLS TCP plugin
	// endpoint admits only daemons with the authorize capability.
	e.g.must(t, 200, "POST", "/v1/serviceAccounts", e.admin, map[string]any{"name": "node1", "capabilities": []string{"authorize"}})
	node := &bundleUser{name: "node1"}
	e.bundle(node, e.admin, "serviceaccount:node1")
	e.g.must(t, 403, "POST", "/v1/bundles", u.token, map[string]any{"owner": "serviceaccount:node1"})
	var spec struct {
		Addr      string
		TLSConfig struct{ CAFile, CertFile, KeyFile string }
	}
	specRaw, err := os.ReadFile(filepath.Join(e.dir, "grantd.json"))
	if err != nil || json.Unmarshal(specRaw, &spec) != nil || !strings.HasPrefix(spec.Addr, "https://") {
		t.Fatalf("plugin spec file: %s %v", specRaw, err)
	}
	call := func(dir string, req authorization.Request) (authorization.Response, error) {
		pc, err := plugins.NewClient(spec.Addr, &tlsconfig.Options{
			CAFile: filepath.Join(e.g.dataDir, "tls", "ca.crt"), CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")})
		if err != nil {
			return authorization.Response{}, err
		}
		var m struct{ Implements []string }
		if err := pc.Call("Plugin.Activate", nil, &m); err != nil {
			return authorization.Response{}, err
		}
		if len(m.Implements) != 1 || m.Implements[0] != "authz" {
			t.Errorf("Plugin.Activate: %+v", m)
		}
		var res authorization.Response
		err = pc.Call(authorization.AuthZApiRequest, &req, &res)
		return res, err
	}
	devCert := readCert(t, filepath.Join(u.dir, "cert.pem"))
	pcert := authorization.PeerCertificate(*devCert)
	res, err := call(node.dir, authorization.Request{User: "dev", UserAuthNMethod: "TLS", RequestMethod: "GET", RequestURI: "/v1.51/version",
		RequestPeerCertificates: []*authorization.PeerCertificate{&pcert}})
	if err != nil || !res.Allow {
		t.Errorf("TLS TCP plugin, daemon with the authorize capability: %+v %v", res, err)
	}
	// The CN and the user the daemon names must agree.
	res, err = call(node.dir, authorization.Request{User: "admin", UserAuthNMethod: "TLS", RequestMethod: "GET", RequestURI: "/version",
		RequestPeerCertificates: []*authorization.PeerCertificate{&pcert}})
	if err != nil || res.Allow || !strings.Contains(res.Msg, "CN") {
		t.Errorf("user not matching the certificate: %+v %v", res, err)
	}
	// No certificate: the daemon's local socket, off by default.
	res, err = call(node.dir, authorization.Request{RequestMethod: "GET", RequestURI: "/version"})
	if err != nil || res.Allow || !strings.Contains(res.Msg, "local socket") {
		t.Errorf("request without a certificate: %+v %v", res, err)
	}
	if _, err := call(u.dir, authorization.Request{RequestMethod: "GET", RequestURI: "/version"}); err == nil {
		t.Error("the TLS TCP plugin endpoint served a user's certificate")
	}
}
