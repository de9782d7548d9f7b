package ldapsync

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// Config is the directory configuration (ldap.md). It is stored as one
// JSON document in the replicated state; ReaderPassword is write-only at
// the API.
type Config struct {
	Enabled                bool           `json:"enabled"`
	Servers                []Server       `json:"servers"`
	JITUserProvisioning    bool           `json:"jitUserProvisioning"`
	UserSearchConfigs      []SearchConfig `json:"userSearchConfigs"`
	SyncIntervalHours      int            `json:"syncIntervalHours"`
	AdminSync              GroupSync      `json:"adminSync"`
	MaxDeactivationPercent int            `json:"maxDeactivationPercent"`
}

// Server is one directory server. The first of a configuration is the
// default; the others serve the DN suffix named by Domain.
type Server struct {
	URL                string `json:"url"`
	Domain             string `json:"domain,omitempty"`
	ReaderDN           string `json:"readerDN"`
	ReaderPassword     string `json:"readerPassword,omitempty"`
	StartTLS           bool   `json:"startTLS,omitempty"`
	SkipTLSVerify      bool   `json:"skipTLSVerify,omitempty"`
	RootCAs            string `json:"rootCAs,omitempty"`
	NoSimplePagination bool   `json:"noSimplePagination,omitempty"`
}

// SearchConfig finds users: the entries under BaseDN matching Filter that
// have a UsernameAttr, optionally only the members of a group.
type SearchConfig struct {
	BaseDN              string `json:"baseDN"`
	UsernameAttr        string `json:"usernameAttr"`
	FullNameAttr        string `json:"fullNameAttr,omitempty"`
	Filter              string `json:"filter,omitempty"`
	ScopeSubtree        bool   `json:"scopeSubtree,omitempty"`
	SelectGroupMembers  bool   `json:"selectGroupMembers,omitempty"`
	IterateGroupMembers bool   `json:"iterateGroupMembers,omitempty"`
	GroupDN             string `json:"groupDN,omitempty"`
	GroupMemberAttr     string `json:"groupMemberAttr,omitempty"`
}

// GroupSync selects users by group membership or by a search: for admin
// sync, team sync and org-admin sync.
type GroupSync struct {
	Enabled            bool   `json:"enabled"`
	SelectGroupMembers bool   `json:"selectGroupMembers,omitempty"`
	GroupDN            string `json:"groupDN,omitempty"`
	GroupMemberAttr    string `json:"groupMemberAttr,omitempty"`
	SearchBaseDN       string `json:"searchBaseDN,omitempty"`
	SearchScopeSubtree bool   `json:"searchScopeSubtree,omitempty"`
	SearchFilter       string `json:"searchFilter,omitempty"`
}

// Defaults of a configuration.
const (
	DefaultSyncIntervalHours      = 1
	DefaultMaxDeactivationPercent = 20
)

// DefaultConfig is the configuration of a new installation: disabled.
func DefaultConfig() Config {
	return Config{JITUserProvisioning: true, SyncIntervalHours: DefaultSyncIntervalHours,
		MaxDeactivationPercent: DefaultMaxDeactivationPercent}
}

var attrName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*$`)

// Validate checks a configuration as a whole and reports every problem at
// once. A disabled configuration is checked too, so that enabling it later
// cannot surprise.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	dn := func(field, v string, required bool) {
		if v == "" {
			if required {
				bad("%s is required", field)
			}
			return
		}
		if _, err := ldap.ParseDN(v); err != nil {
			bad("%s %q is not a DN: %v", field, v, err)
		}
	}
	filter := func(field, v string) {
		if v == "" {
			return
		}
		if _, err := ldap.CompileFilter(v); err != nil {
			bad("%s %q is not an LDAP filter: %v", field, v, err)
		}
	}
	attr := func(field, v string, required bool) {
		if v == "" && !required {
			return
		}
		if !attrName.MatchString(v) {
			bad("%s %q is not an attribute name", field, v)
		}
	}
	if c.Enabled && len(c.Servers) == 0 {
		bad("an enabled configuration needs at least one server")
	}
	if c.Enabled && len(c.UserSearchConfigs) == 0 {
		bad("an enabled configuration needs at least one user search config")
	}
	domains := map[string]bool{}
	for i, s := range c.Servers {
		f := fmt.Sprintf("servers[%d]", i)
		u, err := url.Parse(s.URL)
		switch {
		case err != nil || u.Host == "":
			bad("%s.url %q: want ldap://host[:port] or ldaps://host[:port]", f, s.URL)
		case u.Scheme != "ldap" && u.Scheme != "ldaps":
			bad("%s.url %q: scheme must be ldap or ldaps", f, s.URL)
		}
		if i > 0 {
			dn(f+".domain", s.Domain, true)
			key := strings.ToLower(s.Domain)
			if domains[key] {
				bad("%s.domain %q is served by another server too", f, s.Domain)
			}
			domains[key] = true
		}
		dn(f+".readerDN", s.ReaderDN, false)
		if s.RootCAs != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(s.RootCAs)) {
			bad("%s.rootCAs holds no PEM certificate", f)
		}
	}
	for i, sc := range c.UserSearchConfigs {
		f := fmt.Sprintf("userSearchConfigs[%d]", i)
		dn(f+".baseDN", sc.BaseDN, true)
		attr(f+".usernameAttr", sc.UsernameAttr, true)
		attr(f+".fullNameAttr", sc.FullNameAttr, false)
		filter(f+".filter", sc.Filter)
		if sc.SelectGroupMembers && sc.IterateGroupMembers {
			bad("%s: selectGroupMembers and iterateGroupMembers exclude each other", f)
		}
		if sc.SelectGroupMembers || sc.IterateGroupMembers {
			dn(f+".groupDN", sc.GroupDN, true)
			attr(f+".groupMemberAttr", sc.GroupMemberAttr, true)
		}
	}
	errs = append(errs, c.AdminSync.validate("adminSync"))
	if c.SyncIntervalHours < 0 || c.SyncIntervalHours > 24*30 {
		bad("syncIntervalHours must be 0 (off) to 720")
	}
	if c.MaxDeactivationPercent < 0 || c.MaxDeactivationPercent > 100 {
		bad("maxDeactivationPercent must be 0 to 100")
	}
	return errors.Join(errs...)
}

// Validate checks a team's or org's sync setting.
func (g GroupSync) Validate() error { return g.validate("sync") }

func (g GroupSync) validate(field string) error {
	if !g.Enabled {
		return nil
	}
	var errs []error
	if g.SelectGroupMembers {
		if _, err := ldap.ParseDN(g.GroupDN); err != nil || g.GroupDN == "" {
			errs = append(errs, fmt.Errorf("%s.groupDN %q is not a DN", field, g.GroupDN))
		}
		if !attrName.MatchString(g.GroupMemberAttr) {
			errs = append(errs, fmt.Errorf("%s.groupMemberAttr %q is not an attribute name", field, g.GroupMemberAttr))
		}
		return errors.Join(errs...)
	}
	if _, err := ldap.ParseDN(g.SearchBaseDN); err != nil || g.SearchBaseDN == "" {
		errs = append(errs, fmt.Errorf("%s.searchBaseDN %q is not a DN", field, g.SearchBaseDN))
	}
	if g.SearchFilter != "" {
		if _, err := ldap.CompileFilter(g.SearchFilter); err != nil {
			errs = append(errs, fmt.Errorf("%s.searchFilter %q is not an LDAP filter: %v", field, g.SearchFilter, err))
		}
	}
	return errors.Join(errs...)
}

// ServerFor picks the server for a search base: the one whose domain is the
// longest DN suffix of base, else the default (first) server.
func (c Config) ServerFor(base string) (Server, int) {
	best, bestLen := 0, -1
	baseDN, err := ldap.ParseDN(base)
	if err != nil {
		return c.Servers[0], 0
	}
	for i, s := range c.Servers {
		if i == 0 || s.Domain == "" {
			continue
		}
		domain, err := ldap.ParseDN(s.Domain)
		if err != nil || !(domain.EqualFold(baseDN) || domain.AncestorOfFold(baseDN)) {
			continue
		}
		if n := len(domain.RDNs); n > bestLen {
			best, bestLen = i, n
		}
	}
	return c.Servers[best], best
}
