package peerkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Postgres is a PostgreSQL server of a peer's own: Debian's binaries, a
// fresh cluster in a temporary directory, reachable only through a unix
// socket in that directory. It is the production datastore of OpenFGA
// and of SpiceDB both, here on the same machine, the way a deployment
// runs it beside the service (docs/peers.md).
type Postgres struct {
	dir  string
	proc *exec.Cmd
	done chan error
	// URI is the connection URI (for pgx, which both peers use): the
	// socket's directory as the host, the role the cluster was made with.
	URI string
}

// postgresRole is the superuser role of the throwaway cluster; trust
// authentication on a socket only its owner (and root) can reach.
const postgresRole = "grantd"

// StartPostgres makes and starts a cluster. Run as root, the server runs
// as Debian's postgres user (PostgreSQL refuses root). Its one setting
// that is not the default, autovacuum_naptime, keeps the planner's
// statistics up with a bulk load: with a minute's, the peers' writes were
// planned for the empty tables they started with and scanned whole tables.
func StartPostgres(ctx context.Context) (*Postgres, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "peer-postgres")
	if err != nil {
		return nil, err
	}
	s := &Postgres{dir: dir, done: make(chan error, 1)}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			s.remove()
			return nil, fmt.Errorf("run as root, PostgreSQL needs the postgres user (Debian's postgresql package): %w", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		if err := os.Chown(dir, int(uid), int(gid)); err != nil {
			s.remove()
			return nil, err
		}
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", postgresRole, "--auth=trust", "-E", "UTF8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		s.remove()
		return nil, fmt.Errorf("initdb: %w: %s", err, lastLines(out))
	}
	var log bytes.Buffer
	// No TCP listener: the socket in dir is the only way in.
	s.proc = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-k", dir, "-c", "listen_addresses=", "-c", "autovacuum_naptime=1")
	s.proc.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	s.proc.Stdout, s.proc.Stderr = &log, &log
	if err := s.proc.Start(); err != nil {
		s.remove()
		return nil, err
	}
	go func() { s.done <- s.proc.Wait() }()
	// The socket appears before the server accepts connections ("the
	// database system is starting up"): ready is what pg_isready says.
	deadline := time.Now().Add(time.Minute)
	for {
		if exec.CommandContext(ctx, filepath.Join(bin, "pg_isready"), "-q", "-h", dir, "-U", postgresRole, "-d", "postgres").Run() == nil {
			break
		}
		select {
		case err := <-s.done:
			s.remove()
			return nil, fmt.Errorf("postgres exited: %v: %s", err, lastLines(log.Bytes()))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("postgres: not ready after a minute: %s", lastLines(log.Bytes()))
		}
	}
	s.URI = fmt.Sprintf("postgres://%s@/postgres?host=%s&sslmode=disable", postgresRole, url.QueryEscape(dir))
	return s, nil
}

// Stop shuts the server down (a fast shutdown) and removes its cluster.
func (s *Postgres) Stop() {
	_ = s.proc.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.proc.Process.Kill()
		<-s.done
	}
	s.remove()
}

func (s *Postgres) remove() { _ = os.RemoveAll(s.dir) }

// postgresBin is the newest of Debian's PostgreSQL bin directories.
func postgresBin() (string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(found) == 0 {
		return "", errors.New("no PostgreSQL server in /usr/lib/postgresql (Debian's postgresql package; make test installs it)")
	}
	version := func(p string) int {
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
		return n
	}
	newest := slices.MaxFunc(found, func(a, b string) int { return version(a) - version(b) })
	return filepath.Dir(newest), nil
}

// lastLines is the end of a process's output, for an error.
func lastLines(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.Join(lines[max(0, len(lines)-5):], "\n")
}
