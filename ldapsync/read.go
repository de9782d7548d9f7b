package ldapsync

import (
	"context"
	"fmt"

	"github.com/go-ldap/ldap/v3"
)

// directory is what one sync run read from the directory. Member sets hold
// normalized DNs; a nil set is a selection whose search failed.
type directory struct {
	// users in search-config order, first config winning a username.
	users []Entry
	// byDN maps the normalized DN of each user found to its username.
	byDN    map[string]string
	skipped int
	admins  map[string]bool
	teams   map[TeamKey]map[string]bool
	orgs    map[string]map[string]bool
	errors  []string
}

// failed reports whether any search of the run failed.
func (d *directory) failed() bool { return len(d.errors) > 0 }

// TeamKey names a team.
type TeamKey struct{ Org, Team string }

func (k TeamKey) String() string { return k.Org + "/" + k.Team }

// reader reads the directory for one run, with one connection per server.
type reader struct {
	ctx   context.Context
	cfg   Config
	conns map[int]*ldap.Conn
}

func newReader(ctx context.Context, cfg Config) *reader {
	return &reader{ctx: ctx, cfg: cfg, conns: map[int]*ldap.Conn{}}
}

func (r *reader) close() {
	for _, c := range r.conns {
		c.Close()
	}
}

// conn is the connection to the server serving base.
func (r *reader) conn(base string) (*ldap.Conn, Server, error) {
	server, i := r.cfg.ServerFor(base)
	if c, ok := r.conns[i]; ok {
		return c, server, nil
	}
	if err := r.ctx.Err(); err != nil {
		return nil, server, err
	}
	c, err := connect(r.ctx, server)
	if err != nil {
		return nil, server, err
	}
	r.conns[i] = c
	return c, server, nil
}

// readUsers runs every user search config in order.
func (r *reader) readUsers(d *directory) {
	d.byDN = map[string]string{}
	seen := map[string]bool{}
	for i, sc := range r.cfg.UserSearchConfigs {
		conn, server, err := r.conn(sc.BaseDN)
		if err == nil {
			var found []Entry
			var skipped int
			found, skipped, err = findUsers(conn, server, sc, "")
			d.skipped += skipped
			for _, e := range found {
				if seen[e.Username] {
					continue // an earlier config has this username
				}
				seen[e.Username] = true
				d.users = append(d.users, e)
				d.byDN[normalizeDN(e.DN)] = e.Username
			}
		}
		if err != nil {
			d.errors = append(d.errors, fmt.Sprintf("userSearchConfigs[%d]: %v", i, err))
		}
	}
}

// selection reads the DNs a group sync setting selects: the members of a
// group, or the entries of a search. It returns nil (and records the error)
// when the directory could not answer.
func (r *reader) selection(d *directory, what string, g GroupSync) map[string]bool {
	var set map[string]bool
	var err error
	if g.SelectGroupMembers {
		var conn *ldap.Conn
		if conn, _, err = r.conn(g.GroupDN); err == nil {
			set, _, err = groupMembers(conn, g.GroupDN, g.GroupMemberAttr)
		}
	} else {
		set, err = r.searchDNs(g)
	}
	if err != nil {
		d.errors = append(d.errors, fmt.Sprintf("%s: %v", what, err))
		return nil
	}
	return set
}

func (r *reader) searchDNs(g GroupSync) (map[string]bool, error) {
	conn, server, err := r.conn(g.SearchBaseDN)
	if err != nil {
		return nil, err
	}
	filter := "(objectClass=*)"
	if g.SearchFilter != "" {
		filter = parenthesized(g.SearchFilter)
	}
	entries, err := search(conn, server, ldap.NewSearchRequest(g.SearchBaseDN, scope(g.SearchScopeSubtree),
		ldap.NeverDerefAliases, 0, 0, false, filter, []string{"1.1"}, nil))
	if err != nil {
		return nil, fmt.Errorf("search %s: %w", g.SearchBaseDN, err)
	}
	set := make(map[string]bool, len(entries))
	for _, e := range entries {
		set[normalizeDN(e.DN)] = true
	}
	return set, nil
}
