package ldaptest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

func TestSlapdServesFixturesOverPlainAndTLS(t *testing.T) {
	var ldif strings.Builder
	ldif.WriteString(OU("dc=example,dc=com", "people") + OU("dc=example,dc=com", "groups"))
	var members []string
	for i := range 1200 {
		u := fmt.Sprintf("user%04d", i)
		ldif.WriteString(Person("ou=people,dc=example,dc=com", u, "User "+u, "pw-"+u))
		if i < 3 {
			members = append(members, "uid="+u+",ou=people,dc=example,dc=com")
		}
	}
	s := Start(t, Options{LDIF: ldif.String(), TLS: true,
		OnlineLDIF: Group("ou=groups,dc=example,dc=com", "devs", "member", members...)})

	conn, err := s.DialAs(s.ReaderDN, s.ReaderPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	search := ldap.NewSearchRequest("ou=people,dc=example,dc=com", ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, 0, false, "(objectClass=inetOrgPerson)", []string{"uid", "memberOf"}, nil)
	// More entries than the size limit: a plain search is cut off, a paged one is not.
	if _, err := conn.Search(search); !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		t.Errorf("unpaged search over 1200 entries: %v, want size limit exceeded", err)
	}
	res, err := conn.SearchWithPaging(search, 500)
	if err != nil || len(res.Entries) != 1200 {
		t.Fatalf("paged search: %d entries, %v", len(res.Entries), err)
	}
	withGroup := 0
	for _, e := range res.Entries {
		if v := e.GetAttributeValue("memberOf"); v == "cn=devs,ou=groups,dc=example,dc=com" {
			withGroup++
		}
	}
	if withGroup != 3 {
		t.Errorf("memberOf set on %d entries, want 3", withGroup)
	}
	// A user binds with their own password, not with a wrong one.
	if err := conn.Bind("uid=user0001,ou=people,dc=example,dc=com", "pw-user0001"); err != nil {
		t.Errorf("user bind: %v", err)
	}
	if err := conn.Bind("uid=user0001,ou=people,dc=example,dc=com", "wrong"); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Errorf("wrong password: %v", err)
	}

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CAPEM)
	tlsConfig := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	ldaps, err := ldap.DialURL(s.LDAPSURL, ldap.DialWithTLSConfig(tlsConfig))
	if err != nil {
		t.Fatalf("ldaps: %v", err)
	}
	if err := ldaps.Bind(s.RootDN, s.RootPassword); err != nil {
		t.Errorf("bind over ldaps: %v", err)
	}
	ldaps.Close()
	plain, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.StartTLS(tlsConfig); err != nil {
		t.Errorf("StartTLS: %v", err)
	}
	// Stopped, the server refuses connections; restarted, it serves the same data.
	s.Stop()
	if _, err := s.Dial(); err == nil {
		t.Fatal("dial after Stop succeeded")
	}
	s.Restart(t)
	if c, err := s.Dial(); err != nil {
		t.Fatalf("after restart: %v", err)
	} else {
		c.Close()
	}
}
