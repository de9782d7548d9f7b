package ldaptest

import (
	"fmt"
	"strings"
)

// OU is the LDIF of an organizational unit under parent.
func OU(parent, name string) string {
	return fmt.Sprintf("dn: ou=%s,%s\nobjectClass: organizationalUnit\nou: %s\n\n", name, parent, name)
}

// Person is the LDIF of an inetOrgPerson uid=<uid> with a password.
func Person(parent, uid, fullName, password string) string {
	sn := fullName
	if i := strings.LastIndex(fullName, " "); i >= 0 {
		sn = fullName[i+1:]
	}
	return fmt.Sprintf("dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\nuserPassword: %s\n\n",
		uid, parent, uid, fullName, sn, password)
}

// Group is the LDIF of a group cn=<name>: groupOfNames with attr "member",
// or groupOfUniqueNames with "uniqueMember". Both schemas need at least
// one member, so a group given none gets the empty DN as its only member
// (what directories do for "empty" groups of these schemas).
func Group(parent, name, attr string, memberDNs ...string) string {
	class := "groupOfNames"
	if attr == "uniqueMember" {
		class = "groupOfUniqueNames"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "dn: cn=%s,%s\nobjectClass: %s\ncn: %s\n", name, parent, class, name)
	if len(memberDNs) == 0 {
		memberDNs = []string{""}
	}
	for _, m := range memberDNs {
		fmt.Fprintf(&b, "%s: %s\n", attr, m)
	}
	b.WriteString("\n")
	return b.String()
}
