// Package ldaptest runs real OpenLDAP slapd servers for tests: each on free
// loopback ports, with a generated configuration, its own data directory,
// optional TLS (ldaps and StartTLS) from a generated CA, and LDIF fixtures
// loaded with slapadd. Nothing touches the system's slapd service.
//
// slapd comes from Debian's slapd package; `make test` installs it (with
// ldap-utils) when it is missing. A test that cannot find it fails: it never
// skips.
package ldaptest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Binaries of the slapd and ldap-utils packages.
var (
	slapdBin   = "/usr/sbin/slapd"
	slapaddBin = "/usr/sbin/slapadd"
	ldapaddBin = "/usr/bin/ldapadd"
	modulePath = "/usr/lib/ldap"
	schemaDir  = "/etc/ldap/schema"
)

// Options shape one server.
type Options struct {
	// Suffix is the naming context (default dc=example,dc=com).
	Suffix string
	// LDIF is loaded with slapadd before the server starts (fast, but
	// overlays do not run: no memberOf); the suffix entry and a reader
	// account are always created.
	LDIF string
	// OnlineLDIF is added with ldapadd once the server runs, so the
	// memberOf overlay sees it: put groups here.
	OnlineLDIF string
	// TLS adds an ldaps listener and StartTLS on the ldap one, with a
	// certificate for 127.0.0.1 and localhost from a generated CA.
	TLS bool
	// UniqueMember makes the memberOf overlay follow groupOfUniqueNames /
	// uniqueMember instead of groupOfNames / member.
	UniqueMember bool
	// SizeLimit caps entries per search (default 1000); paged searches may
	// return more in total, as Active Directory's MaxPageSize does.
	SizeLimit int
}

// Server is a running slapd.
type Server struct {
	// URL is the plain listener (ldap://127.0.0.1:port); LDAPSURL the TLS
	// one when Options.TLS.
	URL, LDAPSURL string
	Suffix        string
	// RootDN and RootPassword bind as the directory manager, who is
	// exempt from limits; ReaderDN and ReaderPassword as an ordinary
	// account that may read everything but passwords, as grantd's reader.
	RootDN, RootPassword     string
	ReaderDN, ReaderPassword string
	// CAPEM is the CA certificate (PEM) of the TLS listeners.
	CAPEM []byte

	dir  string
	opts Options
	cmd  *exec.Cmd
	done chan struct{}
	logs lockedBuffer
}

// lockedBuffer collects slapd's output, written by os/exec's copier while
// a failing test may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}

const configTemplate = `include {{.Schema}}/core.schema
include {{.Schema}}/cosine.schema
include {{.Schema}}/inetorgperson.schema
include {{.Schema}}/nis.schema
modulepath {{.Modules}}
moduleload back_mdb
moduleload memberof
pidfile {{.Dir}}/slapd.pid
{{if .TLS}}TLSCACertificateFile {{.Dir}}/ca.crt
TLSCertificateFile {{.Dir}}/server.crt
TLSCertificateKeyFile {{.Dir}}/server.key
{{end}}sizelimit size.soft={{.SizeLimit}} size.hard={{.SizeLimit}} size.pr={{.SizeLimit}} size.prtotal=unlimited
database mdb
suffix "{{.Suffix}}"
rootdn "{{.RootDN}}"
rootpw {{.RootPassword}}
directory {{.Dir}}/data
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
maxsize 1073741824
index objectClass eq
index uid,cn,member,uniqueMember,memberOf eq
overlay memberof
{{if .UniqueMember}}memberof-group-oc groupOfUniqueNames
memberof-member-ad uniqueMember
{{end}}`

// Start runs a slapd for the test and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Suffix == "" {
		opts.Suffix = "dc=example,dc=com"
	}
	if opts.SizeLimit == 0 {
		opts.SizeLimit = 1000
	}
	for _, bin := range []string{slapdBin, slapaddBin, ldapaddBin} {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("%s not found: install Debian's slapd and ldap-utils (make test does)", bin)
		}
	}
	s := &Server{Suffix: opts.Suffix, RootDN: "cn=admin," + opts.Suffix, RootPassword: "root-secret",
		ReaderDN: "cn=reader," + opts.Suffix, ReaderPassword: "reader-secret", dir: t.TempDir(), opts: opts}
	if err := os.Mkdir(filepath.Join(s.dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if opts.TLS {
		ca, err := writeCerts(s.dir)
		if err != nil {
			t.Fatal(err)
		}
		s.CAPEM = ca
	}
	conf := filepath.Join(s.dir, "slapd.conf")
	var buf bytes.Buffer
	err := template.Must(template.New("conf").Parse(configTemplate)).Execute(&buf, map[string]any{
		"Schema": schemaDir, "Modules": modulePath, "Dir": s.dir, "TLS": opts.TLS, "SizeLimit": opts.SizeLimit,
		"Suffix": opts.Suffix, "RootDN": s.RootDN, "RootPassword": s.RootPassword, "UniqueMember": opts.UniqueMember})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	reader := fmt.Sprintf("dn: %s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: reader\nuserPassword: %s\n\n",
		s.ReaderDN, s.ReaderPassword)
	s.load(t, suffixEntry(opts.Suffix)+"\n"+reader+opts.LDIF)
	s.start(t)
	t.Cleanup(s.Stop)
	if opts.OnlineLDIF != "" {
		s.Add(t, opts.OnlineLDIF)
	}
	return s
}

// suffixEntry is the LDIF of the naming context's own entry.
func suffixEntry(suffix string) string {
	first, _, _ := strings.Cut(suffix, ",")
	_, value, _ := strings.Cut(first, "=")
	return fmt.Sprintf("dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: %s\no: %s\n", suffix, value, value)
}

// Add adds LDIF to the running server with ldapadd, as the manager.
func (s *Server) Add(t testing.TB, ldif string) {
	t.Helper()
	cmd := exec.Command(ldapaddBin, "-x", "-H", s.URL, "-D", s.RootDN, "-w", s.RootPassword)
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ldapadd: %v\n%s", err, out)
	}
}

// load adds LDIF offline with slapadd (fast for large fixtures).
func (s *Server) load(t testing.TB, ldif string) {
	t.Helper()
	cmd := exec.Command(slapaddBin, "-f", filepath.Join(s.dir, "slapd.conf"), "-q")
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("slapadd: %v\n%s", err, out)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// start picks free ports and launches slapd.
func (s *Server) start(t testing.TB) {
	t.Helper()
	s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", freePort(t))
	if s.opts.TLS {
		s.LDAPSURL = fmt.Sprintf("ldaps://127.0.0.1:%d", freePort(t))
	}
	s.launch(t)
}

// launch runs slapd in the foreground on the server's URLs and waits until
// it answers a bind.
func (s *Server) launch(t testing.TB) {
	t.Helper()
	urls := s.URL + "/"
	if s.LDAPSURL != "" {
		urls += " " + s.LDAPSURL + "/"
	}
	// -d 0 keeps slapd in the foreground, so the test owns the process.
	s.cmd = exec.Command(slapdBin, "-f", filepath.Join(s.dir, "slapd.conf"), "-h", urls, "-d", "0")
	s.logs.Reset()
	s.cmd.Stdout, s.cmd.Stderr = &s.logs, &s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	s.done = done
	go func() { _ = s.cmd.Wait(); close(done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := s.Dial()
		if err == nil {
			conn.Close()
			return
		}
		select {
		case <-done:
			t.Fatalf("slapd exited: %s", s.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("slapd did not answer within 20s: %v\n%s", err, s.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Dial connects to the plain listener and binds as the directory manager.
func (s *Server) Dial() (*ldap.Conn, error) { return s.DialAs(s.RootDN, s.RootPassword) }

// DialAs connects to the plain listener and binds as dn.
func (s *Server) DialAs(dn, password string) (*ldap.Conn, error) {
	conn, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}))
	if err != nil {
		return nil, err
	}
	if err := conn.Bind(dn, password); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// Stop kills slapd (a crash, as far as clients can tell) and waits for it.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}

// Restart starts a stopped server again on the same ports and data.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.launch(t)
}

// Modify runs f on a manager connection (add, delete, modify entries).
func (s *Server) Modify(t testing.TB, f func(*ldap.Conn) error) {
	t.Helper()
	conn, err := s.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := f(conn); err != nil {
		t.Fatal(err)
	}
}
