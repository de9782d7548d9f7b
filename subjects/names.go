package subjects

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidName is wrapped by every name validation error.
var ErrInvalidName = errors.New("invalid name")

const maxNameLen = 100

// forbiddenInUsername are the characters a username may not contain.
const forbiddenInUsername = `/\[]:;|=,+*?<>'"`

// ValidUsername checks a user or service-account name: 1–100 characters, no
// whitespace, no unprintable characters and none of / \ [ ] : ; | = , + * ? < > ' ".
func ValidUsername(name string) error {
	if plainUsername(name) {
		return nil
	}
	if name == "" || utf8.RuneCountInString(name) > maxNameLen {
		return fmt.Errorf("%w: a username must be 1-%d characters", ErrInvalidName, maxNameLen)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: username %q is not valid UTF-8", ErrInvalidName, name)
	}
	for _, r := range name {
		switch {
		case unicode.IsSpace(r):
			return fmt.Errorf("%w: username %q contains whitespace", ErrInvalidName, name)
		case !unicode.IsPrint(r):
			return fmt.Errorf("%w: username %q contains an unprintable character", ErrInvalidName, name)
		case r < utf8.RuneSelf && containsByte(forbiddenInUsername, byte(r)):
			return fmt.Errorf("%w: username %q contains %q", ErrInvalidName, name, r)
		}
	}
	return nil
}

// usernameASCII marks the ASCII characters a username may hold: printable,
// not a space, not forbidden.
var usernameASCII = func() (ok [utf8.RuneSelf]bool) {
	for c := '!'; c <= '~'; c++ {
		ok[c] = !strings.ContainsRune(forbiddenInUsername, c)
	}
	return ok
}()

// plainUsername reports, in one pass, whether name is a valid username
// made of ASCII only, as nearly every name is; ValidUsername checks the
// others rune by rune.
func plainUsername(name string) bool {
	if name == "" || len(name) > maxNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c >= utf8.RuneSelf || !usernameASCII[c] {
			return false
		}
	}
	return true
}

// ValidOrgName checks an org or team name: 1–100 of [A-Za-z0-9._-], not
// starting with . or -.
func ValidOrgName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("%w: org and team names must be 1-%d characters", ErrInvalidName, maxNameLen)
	}
	if name[0] == '.' || name[0] == '-' {
		return fmt.Errorf("%w: %q must not start with . or -", ErrInvalidName, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %q has a character outside [A-Za-z0-9._-]", ErrInvalidName, name)
		}
	}
	return nil
}

func containsByte(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}

// ValidKubernetesNamespace checks a Kubernetes namespace name: a DNS-1123
// label (1-63 of [a-z0-9-], starting and ending with an alphanumeric).
func ValidKubernetesNamespace(ns string) error {
	if !isDNSLabel(ns) {
		return fmt.Errorf("%w: Kubernetes namespace %q must be 1-63 of [a-z0-9-], starting and ending with a letter or digit", ErrInvalidName, ns)
	}
	return nil
}

// ValidKubernetesServiceAccount checks "<namespace>/<name>": a namespace
// and a DNS-1123 subdomain of at most 253 characters.
func ValidKubernetesServiceAccount(full string) error {
	ns, name, ok := strings.Cut(full, "/")
	if !ok {
		return fmt.Errorf("%w: a Kubernetes service account is <namespace>/<name>, not %q", ErrInvalidName, full)
	}
	if err := ValidKubernetesNamespace(ns); err != nil {
		return err
	}
	if len(name) > 253 || !isDNSSubdomain(name) {
		return fmt.Errorf("%w: Kubernetes service account name %q must be a DNS-1123 subdomain", ErrInvalidName, name)
	}
	return nil
}

func isDNSLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func isDNSSubdomain(s string) bool {
	for _, label := range strings.Split(s, ".") {
		if !isDNSLabel(label) {
			return false
		}
	}
	return true
}
