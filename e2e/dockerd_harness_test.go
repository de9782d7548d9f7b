package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A real Docker engine for the tests: Debian's dockerd (scripts/test-deps.sh
// installs docker.io), started once per test binary with its own data and
// exec roots and socket, in its own network namespace (swarm's ports stay
// private), with the vfs storage driver and no bridge or iptables. No
// image can be pulled here, so the tests build a tiny one FROM scratch out
// of testdata/hello. The client is Debian's docker CLI, /usr/bin/docker.

const (
	dockerdBin = "/usr/sbin/dockerd"
	dockerCLI  = "/usr/bin/docker"
	testImage  = "grantd-e2e-hello"
)

type realDockerd struct {
	dir    string // data, exec roots and the socket
	sock   string
	netns  string
	cmd    *exec.Cmd
	exited chan struct{}
	log    *syncBuffer
}

var (
	dockerdOnce sync.Once
	dockerdInst *realDockerd
	dockerdErr  error
)

// sharedDockerd starts the package's dockerd on first use; TestMain stops it.
func sharedDockerd(t testing.TB) *realDockerd {
	t.Helper()
	dockerdOnce.Do(func() { dockerdInst, dockerdErr = startDockerd() })
	if dockerdErr != nil {
		t.Fatalf("starting dockerd: %v", dockerdErr)
	}
	return dockerdInst
}

func startDockerd() (*realDockerd, error) {
	for _, bin := range []string{dockerdBin, dockerCLI, "/usr/bin/containerd", "/usr/sbin/runc"} {
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("%s is missing: make test installs Debian's docker.io (scripts/test-deps.sh): %w", bin, err)
		}
	}
	// Short paths: containerd's socket lives under the exec root and unix
	// socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "gdk")
	if err != nil {
		return nil, err
	}
	d := &realDockerd{dir: dir, sock: filepath.Join(dir, "d.sock"), netns: "grantd-e2e-" + filepath.Base(dir),
		exited: make(chan struct{}), log: &syncBuffer{}}
	if out, err := exec.Command("ip", "netns", "add", d.netns).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ip netns add: %v: %s", err, out)
	}
	if out, err := exec.Command("ip", "netns", "exec", d.netns, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		d.stop()
		return nil, fmt.Errorf("loopback in the namespace: %v: %s", err, out)
	}
	// nsenter enters only the network namespace: `ip netns exec` would
	// also remount /sys and hide the cgroup hierarchy dockerd needs.
	d.cmd = exec.Command("nsenter", "--net=/var/run/netns/"+d.netns, dockerdBin,
		"--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "x"),
		"--pidfile", filepath.Join(dir, "d.pid"), "--host", "unix://"+d.sock,
		"--storage-driver", "vfs", "--bridge=none", "--iptables=false", "--ip-masq=false")
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		d.stop()
		return nil, err
	}
	go func() { _ = d.cmd.Wait(); close(d.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if out, err := d.docker("version", "--format", "{{.Server.Version}}"); err == nil {
			_ = out
			break
		}
		select {
		case <-d.exited:
			d.stop()
			return nil, fmt.Errorf("dockerd exited:\n%s", d.log)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.stop()
			return nil, fmt.Errorf("dockerd did not answer within 60s:\n%s", d.log)
		}
	}
	if err := d.buildImage(); err != nil {
		d.stop()
		return nil, err
	}
	return d, nil
}

// buildImage builds the test image FROM scratch out of testdata/hello.
func (d *realDockerd) buildImage() error {
	ctxDir := filepath.Join(d.dir, "image")
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		return err
	}
	build := exec.Command("go", "build", "-o", filepath.Join(ctxDir, "hello"), "./testdata/hello")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the test program: %v: %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM scratch\nCOPY hello /hello\nENTRYPOINT [\"/hello\"]\n"), 0o644); err != nil {
		return err
	}
	if out, err := d.docker("build", "-q", "-t", testImage, ctxDir); err != nil {
		return fmt.Errorf("docker build: %v: %s", err, out)
	}
	return nil
}

// docker runs the CLI against the daemon's own socket (as its operator).
func (d *realDockerd) docker(args ...string) (string, error) {
	cmd := exec.Command(dockerCLI, append([]string{"--host", "unix://" + d.sock}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0", "DOCKER_CONFIG="+filepath.Join(d.dir, "cli"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// stop ends dockerd (and the containers and containerd it started) and
// removes its namespace and files.
func (d *realDockerd) stop() {
	if d.cmd != nil && d.cmd.Process != nil {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
			<-d.exited
		}
	}
	_ = exec.Command("ip", "netns", "delete", d.netns).Run()
	// vfs layers may be left mounted by nothing, but their files are many.
	_ = os.RemoveAll(d.dir)
}

// dockerUser is a docker CLI configured with one grantd client bundle,
// exactly as `eval "$(<env.sh)"` would configure it.
type dockerUser struct {
	t   *testing.T
	env []string
}

// bundleCLI unpacks a bundle zip and returns the CLI environment of its env.sh.
func bundleCLI(t *testing.T, zip []byte) *dockerUser {
	t.Helper()
	dir := t.TempDir()
	unzip(t, zip, dir)
	script := fmt.Sprintf(`cd %q && eval "$(<env.sh)" && env`, dir)
	out, err := exec.Command("bash", "-c", script).Output()
	if err != nil {
		t.Fatalf("env.sh: %v", err)
	}
	u := &dockerUser{t: t, env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "DOCKER_CONFIG=" + filepath.Join(dir, ".docker")}}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "DOCKER_") && !strings.HasPrefix(line, "DOCKER_CONFIG=") {
			u.env = append(u.env, line)
		}
	}
	return u
}

// run runs the docker CLI with the bundle; it returns the combined output
// and the exit code.
func (u *dockerUser) run(stdin string, args ...string) (string, int) {
	u.t.Helper()
	return u.runWith(stdin, dockerCLI, args...)
}

// runProgram runs another program (script, timeout) in the bundle's
// environment.
func (u *dockerUser) runProgram(program string, args ...string) (string, int) {
	u.t.Helper()
	return u.runWith("", program, args...)
}

func (u *dockerUser) runWith(stdin, program string, args ...string) (string, int) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.Env = u.env
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		u.t.Fatalf("%s %s: timed out\n%s", program, strings.Join(args, " "), out.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		u.t.Fatalf("%s %s: %v", program, strings.Join(args, " "), err)
	}
	return out.String(), code
}

// ok runs a docker command that must succeed.
func (u *dockerUser) ok(args ...string) string {
	u.t.Helper()
	out, code := u.run("", args...)
	if code != 0 {
		u.t.Fatalf("docker %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// refused runs a docker command that grantd must refuse, with a message
// containing each of want.
func (u *dockerUser) refused(want []string, args ...string) {
	u.t.Helper()
	out, code := u.run("", args...)
	if code == 0 || !strings.Contains(out, "grantd") {
		u.t.Errorf("docker %s: exit %d, want a refusal by grantd\n%s", strings.Join(args, " "), code, out)
		return
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			u.t.Errorf("docker %s: the refusal does not say %q\n%s", strings.Join(args, " "), w, out)
		}
	}
}
