package ldapsync

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/grantd/grantd/ldapsync/ldaptest"
)

const people = "ou=people,dc=example,dc=com"

// testDirectory starts a slapd with a few people and both group schemas.
func testDirectory(t *testing.T, opts ldaptest.Options) *ldaptest.Server {
	t.Helper()
	ldif := ldaptest.OU("dc=example,dc=com", "people") + ldaptest.OU("dc=example,dc=com", "groups") +
		ldaptest.Person(people, "alice", "Alice Liddell", "alice-pw") +
		ldaptest.Person(people, "bob", "Bob Builder", "bob-pw") +
		ldaptest.Person(people, "carol", "Carol Danvers", "carol-pw") +
		ldaptest.Person(people, "bad/name", "Bad Name", "bad-pw") +
		ldaptest.Person(people, "star*", "Star", "star-pw")
	opts.LDIF = ldif + opts.LDIF
	opts.OnlineLDIF = ldaptest.Group("ou=groups,dc=example,dc=com", "devs", "member", "uid=alice,"+people, "uid=bob,"+people) +
		ldaptest.Group("ou=groups,dc=example,dc=com", "ops", "uniqueMember", "uid=carol,"+people) + opts.OnlineLDIF
	return ldaptest.Start(t, opts)
}

func config(s *ldaptest.Server, sc ...SearchConfig) Config {
	c := DefaultConfig()
	c.Enabled = true
	c.Servers = []Server{{URL: s.URL, ReaderDN: s.ReaderDN, ReaderPassword: s.ReaderPassword}}
	if len(sc) == 0 {
		sc = []SearchConfig{{BaseDN: people, UsernameAttr: "uid", FullNameAttr: "cn"}}
	}
	c.UserSearchConfigs = sc
	return c
}

func TestLoginBySearchAndBind(t *testing.T) {
	s := testDirectory(t, ldaptest.Options{})
	c := config(s)
	ctx := context.Background()
	got, err := c.Authenticate(ctx, "alice", "alice-pw")
	if err != nil || got.DN != "uid=alice,"+people || got.FullName != "Alice Liddell" || got.SearchIndex != 0 {
		t.Fatalf("alice: %+v %v", got, err)
	}
	for _, tc := range []struct{ user, password string }{
		{"alice", "wrong"}, {"alice", ""}, {"nobody", "x"},
		// Injection attempts: escaped once, they match nothing (and a
		// wildcard never finds alice or bob).
		{"*", "alice-pw"}, {"a*", "alice-pw"}, {"alice)(uid=*", "alice-pw"}, {"*)(|(uid=*", "bob-pw"},
		{`alice\`, "alice-pw"}, {"alice\x00", "alice-pw"}, {"star*", "alice-pw"},
		// Names grantd refuses never reach the directory.
		{"bad/name", "bad-pw"},
	} {
		if _, err := c.Authenticate(ctx, tc.user, tc.password); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("login %q/%q: %v, want bad credentials", tc.user, tc.password, err)
		}
	}
	// The directory holds "star*", a name grantd's rules refuse: it cannot
	// log in even with its own password.
	if _, err := c.Authenticate(ctx, "star*", "star-pw"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("star*: %v", err)
	}
	// An unreachable directory is an error, not "bad credentials".
	s.Stop()
	if _, err := c.Authenticate(ctx, "alice", "alice-pw"); err == nil || errors.Is(err, ErrBadCredentials) {
		t.Errorf("directory down: %v", err)
	}
}

func TestGroupSelectionBothSchemas(t *testing.T) {
	s := testDirectory(t, ldaptest.Options{})
	conn, err := connect(context.Background(), config(s).Servers[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	names := func(sc SearchConfig) string {
		t.Helper()
		found, skipped, err := findUsers(conn, config(s).Servers[0], sc, "")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range found {
			out = append(out, e.Username)
		}
		return strings.Join(out, ",") + "/" + string(rune('0'+skipped))
	}
	base := SearchConfig{BaseDN: people, UsernameAttr: "uid"}
	if got := names(base); got != "alice,bob,carol/2" {
		t.Errorf("all people = %s (bad/name and star* skipped as invalid)", got)
	}
	sel := base
	sel.SelectGroupMembers, sel.GroupDN, sel.GroupMemberAttr = true, "cn=devs,ou=groups,dc=example,dc=com", "member"
	if got := names(sel); got != "alice,bob/0" {
		t.Errorf("select groupOfNames members = %s", got)
	}
	it := base
	it.IterateGroupMembers, it.GroupDN, it.GroupMemberAttr = true, "cn=ops,ou=groups,dc=example,dc=com", "uniqueMember"
	if got := names(it); got != "carol/0" {
		t.Errorf("iterate groupOfUniqueNames members = %s", got)
	}
	filtered := base
	filtered.Filter = "(memberOf=cn=devs,ou=groups,dc=example,dc=com)"
	if got := names(filtered); got != "alice,bob/0" {
		t.Errorf("memberOf filter = %s", got)
	}
}

func TestConfigValidationReportsEverything(t *testing.T) {
	c := DefaultConfig()
	c.Enabled = true
	c.Servers = []Server{{URL: "http://x"}, {URL: "ldaps://b", Domain: "not a dn"}, {URL: "ldap://c", Domain: "dc=c", RootCAs: "junk"}}
	c.UserSearchConfigs = []SearchConfig{{BaseDN: "", UsernameAttr: "u id", Filter: "(unclosed"},
		{BaseDN: "dc=x", UsernameAttr: "uid", SelectGroupMembers: true, IterateGroupMembers: true}}
	c.SyncIntervalHours = -1
	c.AdminSync = GroupSync{Enabled: true, SearchFilter: "((("}
	err := c.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"servers[0].url", "servers[1].domain", "servers[2].rootCAs", "userSearchConfigs[0].baseDN",
		"userSearchConfigs[0].usernameAttr", "userSearchConfigs[0].filter", "exclude each other", "userSearchConfigs[1].groupDN",
		"syncIntervalHours", "adminSync.searchBaseDN", "adminSync.searchFilter"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("validation misses %s:\n%v", want, err)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
}

func TestServerChoiceByLongestDomainSuffix(t *testing.T) {
	c := Config{Servers: []Server{{URL: "ldap://default"}, {URL: "ldap://corp", Domain: "dc=corp,dc=com"},
		{URL: "ldap://eu", Domain: "dc=eu,dc=corp,dc=com"}}}
	for base, want := range map[string]string{
		"ou=people,dc=eu,dc=corp,dc=com": "ldap://eu",
		"OU=People,DC=Corp,DC=com":       "ldap://corp",
		"dc=corp,dc=com":                 "ldap://corp",
		"dc=other,dc=com":                "ldap://default",
		"dc=xcorp,dc=com":                "ldap://default",
	} {
		if got, _ := c.ServerFor(base); got.URL != want {
			t.Errorf("ServerFor(%s) = %s, want %s", base, got.URL, want)
		}
	}
}

func TestTwoDomainsAndTLS(t *testing.T) {
	main := testDirectory(t, ldaptest.Options{TLS: true})
	sub := ldaptest.Start(t, ldaptest.Options{Suffix: "dc=sub,dc=com", TLS: true,
		LDIF: ldaptest.OU("dc=sub,dc=com", "people") + ldaptest.Person("ou=people,dc=sub,dc=com", "dave", "Dave Sub", "dave-pw")})
	c := config(main, SearchConfig{BaseDN: people, UsernameAttr: "uid"},
		SearchConfig{BaseDN: "ou=people,dc=sub,dc=com", UsernameAttr: "uid", FullNameAttr: "cn"})
	// The default server over StartTLS, the subsidiary over ldaps; both
	// trust only the CA given in the configuration.
	c.Servers = []Server{
		{URL: main.URL, ReaderDN: main.ReaderDN, ReaderPassword: main.ReaderPassword, StartTLS: true, RootCAs: string(main.CAPEM)},
		{URL: sub.LDAPSURL, Domain: "dc=sub,dc=com", ReaderDN: sub.ReaderDN, ReaderPassword: sub.ReaderPassword, RootCAs: string(sub.CAPEM)},
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if got, err := c.Authenticate(ctx, "dave", "dave-pw"); err != nil || got.Server != sub.LDAPSURL || got.SearchIndex != 1 {
		t.Errorf("dave through the subsidiary: %+v %v", got, err)
	}
	if got, err := c.Authenticate(ctx, "bob", "bob-pw"); err != nil || got.Server != main.URL {
		t.Errorf("bob through the default server: %+v %v", got, err)
	}
	// Without the right CA, TLS fails (an error, not bad credentials);
	// skipTLSVerify is the operator's explicit way around it.
	c.Servers[1].RootCAs = string(main.CAPEM)
	if _, err := c.Authenticate(ctx, "dave", "dave-pw"); err == nil || errors.Is(err, ErrBadCredentials) {
		t.Errorf("wrong CA: %v", err)
	}
	c.Servers[1].RootCAs, c.Servers[1].SkipTLSVerify = "", true
	if _, err := c.Authenticate(ctx, "dave", "dave-pw"); err != nil {
		t.Errorf("skipTLSVerify: %v", err)
	}
}
