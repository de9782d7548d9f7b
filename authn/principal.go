package authn

import (
	"errors"
	"slices"
	"time"

	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
)

// RecoveryAdmin is the name of the account created at first start.
const RecoveryAdmin = "admin"

// Kind is the kind of account a principal is.
type Kind string

// The kinds of principal.
const (
	User           Kind = "user"
	ServiceAccount Kind = "serviceaccount"
)

// Method is how a principal authenticated.
type Method string

// The methods of authentication.
const (
	MethodSession     Method = "session"
	MethodAPIToken    Method = "api_token"
	MethodCertificate Method = "certificate"
	MethodPassword    Method = "password"
)

// Principal is an authenticated, active account.
type Principal struct {
	Kind Kind
	Name string
	// IsAdmin is true for system admins.
	IsAdmin bool
	Method  Method
	// SessionID is the stored ID (token hash) of the caller's session, and
	// SessionExpires when it ends (session callers only).
	SessionID      string
	SessionExpires time.Time
	// Capabilities of a service account.
	Capabilities []string
}

// Subject is the principal as a subject string.
func (p *Principal) Subject() string { return string(p.Kind) + ":" + p.Name }

// HasCapability reports whether a service account holds a capability.
func (p *Principal) HasCapability(c string) bool { return slices.Contains(p.Capabilities, c) }

// ErrUnauthenticated is every failure to turn a token or certificate into
// an active principal: one opaque answer, so callers learn nothing about
// which part failed.
var ErrUnauthenticated = errors.New("missing, invalid or expired credentials")

// PrincipalOf finds the account of subject (user:<name> or
// serviceaccount:<name>) and checks that it is active: the one place every
// credential ends. Anything else is ErrUnauthenticated.
func PrincipalOf(r *store.ReadTxn, subject string, method Method) (*Principal, error) {
	s, err := subjects.ParseSubject(subject)
	if err != nil {
		return nil, ErrUnauthenticated
	}
	switch s.Kind {
	case subjects.User:
		u, err := r.User(s.Name)
		if err != nil || u == nil || !u.Active {
			return nil, ErrUnauthenticated
		}
		return &Principal{Kind: User, Name: u.Name, IsAdmin: u.IsAdmin, Method: method}, nil
	case subjects.ServiceAccount:
		a, err := r.ServiceAccount(s.Name)
		if err != nil || a == nil || !a.Active {
			return nil, ErrUnauthenticated
		}
		return &Principal{Kind: ServiceAccount, Name: a.Name, Method: method, Capabilities: a.Capabilities}, nil
	}
	return nil, ErrUnauthenticated
}
