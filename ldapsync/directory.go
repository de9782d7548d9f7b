package ldapsync

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/grantd/grantd/subjects"
)

// Limits of directory access.
const (
	dialTimeout = 10 * time.Second
	// pageSize is the RFC 2696 page size; servers may lower it.
	pageSize = 1000
	// adDisabled is Active Directory's userAccountControl ACCOUNTDISABLE bit.
	adDisabled = 2
)

// ErrBadCredentials is every login failure a caller may learn about: no
// such user, several matches, wrong or empty password.
var ErrBadCredentials = errors.New("invalid username or password")

// Entry is a directory user as grantd keeps it: only these three.
type Entry struct {
	DN       string
	Username string
	FullName string
}

// connect dials a server, secures the connection as configured and binds
// as the reader.
func connect(ctx context.Context, s Server) (*ldap.Conn, error) {
	u, err := url.Parse(s.URL)
	if err != nil {
		return nil, fmt.Errorf("server %s: %w", s.URL, err)
	}
	tlsConfig := &tls.Config{ServerName: u.Hostname(), InsecureSkipVerify: s.SkipTLSVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // operator's explicit choice
	if s.RootCAs != "" {
		tlsConfig.RootCAs = x509.NewCertPool()
		tlsConfig.RootCAs.AppendCertsFromPEM([]byte(s.RootCAs))
	}
	dialer := &net.Dialer{Timeout: dialTimeout}
	if deadline, ok := ctx.Deadline(); ok {
		dialer.Deadline = deadline
	}
	conn, err := ldap.DialURL(s.URL, ldap.DialWithDialer(dialer), ldap.DialWithTLSConfig(tlsConfig))
	if err != nil {
		return nil, fmt.Errorf("server %s: %w", s.URL, err)
	}
	conn.SetTimeout(dialTimeout)
	if s.StartTLS && u.Scheme == "ldap" {
		if err := conn.StartTLS(tlsConfig); err != nil {
			conn.Close()
			return nil, fmt.Errorf("server %s: StartTLS: %w", s.URL, err)
		}
	}
	if s.ReaderDN != "" {
		if err := conn.Bind(s.ReaderDN, s.ReaderPassword); err != nil {
			conn.Close()
			return nil, fmt.Errorf("server %s: reader bind: %w", s.URL, err)
		}
	}
	return conn, nil
}

// userFilter is the search filter of a config, narrowed to entries with a
// username, or to one username. The username is escaped here, once.
func userFilter(sc SearchConfig, username string) string {
	value := "*"
	if username != "" {
		value = ldap.EscapeFilter(username)
	}
	f := "(" + sc.UsernameAttr + "=" + value + ")"
	if sc.Filter != "" {
		f = "(&" + parenthesized(sc.Filter) + f + ")"
	}
	return f
}

// parenthesized is an operator's filter in parentheses: "objectClass=user"
// and "(objectClass=user)" are both accepted.
func parenthesized(filter string) string {
	if strings.HasPrefix(filter, "(") {
		return filter
	}
	return "(" + filter + ")"
}

func scope(subtree bool) int {
	if subtree {
		return ldap.ScopeWholeSubtree
	}
	return ldap.ScopeSingleLevel
}

// search runs a search, paged unless the server cannot.
func search(conn *ldap.Conn, s Server, req *ldap.SearchRequest) ([]*ldap.Entry, error) {
	var res *ldap.SearchResult
	var err error
	if s.NoSimplePagination {
		res, err = conn.Search(req)
	} else {
		res, err = conn.SearchWithPaging(req, pageSize)
	}
	if err != nil {
		return nil, err
	}
	return res.Entries, nil
}

func (sc SearchConfig) attributes() []string {
	attrs := []string{sc.UsernameAttr, "userAccountControl"}
	if sc.FullNameAttr != "" {
		attrs = append(attrs, sc.FullNameAttr)
	}
	return attrs
}

// entry converts a directory entry; ok is false for entries to skip:
// disabled AD accounts, and names that break grantd's rules (invalid).
func (sc SearchConfig) entry(e *ldap.Entry) (out Entry, ok, invalid bool) {
	if uac := e.GetAttributeValue("userAccountControl"); uac != "" {
		if n, err := strconv.Atoi(uac); err == nil && n&adDisabled != 0 {
			return Entry{}, false, false
		}
	}
	name := e.GetAttributeValue(sc.UsernameAttr)
	if subjects.ValidUsername(name) != nil {
		return Entry{}, false, true
	}
	out = Entry{DN: e.DN, Username: name}
	if sc.FullNameAttr != "" {
		out.FullName = clipRunes(e.GetAttributeValue(sc.FullNameAttr), MaxFullName)
	}
	return out, true, false
}

// MaxFullName is the longest full name grantd keeps, as the API allows;
// a longer one from the directory is cut to it (a full name is display
// text, not an identifier: cutting it changes no decision).
const MaxFullName = 200

func clipRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// groupMembers reads the member DNs of a group, lower-cased for comparison.
func groupMembers(conn *ldap.Conn, groupDN, attr string) (map[string]bool, []string, error) {
	res, err := conn.Search(ldap.NewSearchRequest(groupDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		0, 0, false, "(objectClass=*)", []string{attr}, nil))
	if err != nil {
		return nil, nil, fmt.Errorf("group %s: %w", groupDN, err)
	}
	set := map[string]bool{}
	var dns []string
	for _, e := range res.Entries {
		for _, m := range e.GetAttributeValues(attr) {
			if m == "" {
				continue
			}
			set[normalizeDN(m)] = true
			dns = append(dns, m)
		}
	}
	return set, dns, nil
}

// normalizeDN is a DN in a form two spellings of one DN share.
func normalizeDN(dn string) string {
	parsed, err := ldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(dn)
	}
	parts := make([]string, len(parsed.RDNs))
	for i, rdn := range parsed.RDNs {
		attrs := make([]string, len(rdn.Attributes))
		for j, a := range rdn.Attributes {
			attrs[j] = strings.ToLower(a.Type) + "=" + strings.ToLower(a.Value)
		}
		parts[i] = strings.Join(attrs, "+")
	}
	return strings.Join(parts, ",")
}

// findUsers runs one search config: every user it yields (username ""),
// or the entries for one username. skipped counts invalid names.
func findUsers(conn *ldap.Conn, s Server, sc SearchConfig, username string) (found []Entry, skipped int, err error) {
	keep := func(e *ldap.Entry) {
		out, ok, invalid := sc.entry(e)
		if invalid {
			skipped++
		}
		if ok && (username == "" || out.Username == username) {
			found = append(found, out)
		}
	}
	if sc.IterateGroupMembers {
		_, members, err := groupMembers(conn, sc.GroupDN, sc.GroupMemberAttr)
		if err != nil {
			return nil, 0, err
		}
		for _, dn := range members {
			res, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
				0, 0, false, userFilter(sc, username), sc.attributes(), nil))
			if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
				continue // a dangling member
			}
			if err != nil {
				return nil, 0, fmt.Errorf("member %s: %w", dn, err)
			}
			for _, e := range res.Entries {
				keep(e)
			}
		}
		return found, skipped, nil
	}
	var members map[string]bool
	if sc.SelectGroupMembers {
		if members, _, err = groupMembers(conn, sc.GroupDN, sc.GroupMemberAttr); err != nil {
			return nil, 0, err
		}
	}
	entries, err := search(conn, s, ldap.NewSearchRequest(sc.BaseDN, scope(sc.ScopeSubtree), ldap.NeverDerefAliases,
		0, 0, false, userFilter(sc, username), sc.attributes(), nil))
	if err != nil {
		return nil, 0, fmt.Errorf("search %s: %w", sc.BaseDN, err)
	}
	for _, e := range entries {
		if members == nil || members[normalizeDN(e.DN)] {
			keep(e)
		}
	}
	return found, skipped, nil
}

// LoginResult says who logged in and through which server and config.
type LoginResult struct {
	Entry
	Server      string
	SearchIndex int
}

// Authenticate finds username with the search configs, in order, and binds
// as the entry found with password. An empty password never binds. A
// directory that cannot be reached is an error other than
// ErrBadCredentials.
func (c Config) Authenticate(ctx context.Context, username, password string) (*LoginResult, error) {
	if password == "" || subjects.ValidUsername(username) != nil {
		return nil, ErrBadCredentials
	}
	var reachErr error
	for i, sc := range c.UserSearchConfigs {
		server, _ := c.ServerFor(sc.BaseDN)
		conn, err := connect(ctx, server)
		if err != nil {
			reachErr = err
			continue
		}
		found, _, err := findUsers(conn, server, sc, username)
		if err != nil {
			conn.Close()
			reachErr = err
			continue
		}
		if len(found) == 0 {
			conn.Close()
			continue
		}
		if len(found) > 1 {
			conn.Close()
			return nil, ErrBadCredentials // ambiguous: refuse rather than guess
		}
		err = conn.Bind(found[0].DN, password)
		conn.Close()
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return nil, ErrBadCredentials
		}
		if err != nil {
			return nil, fmt.Errorf("server %s: bind: %w", server.URL, err)
		}
		return &LoginResult{Entry: found[0], Server: server.URL, SearchIndex: i}, nil
	}
	if reachErr != nil {
		return nil, reachErr
	}
	return nil, ErrBadCredentials
}
