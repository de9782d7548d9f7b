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
	// Kind is subjects.User or subjects.ServiceAccount.
	Kind subjects.Kind
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

// Subject is the principal's subject.
func (p *Principal) Subject() subjects.Subject { return subjects.Subject{Kind: p.Kind, Name: p.Name} }

// HasCapability reports whether a service account holds a capability.
func (p *Principal) HasCapability(c string) bool { return slices.Contains(p.Capabilities, c) }

// ErrUnauthenticated is every failure to turn a token or certificate into
// an active principal: one opaque answer, so callers learn nothing about
// which part failed.
var ErrUnauthenticated = errors.New("missing, invalid or expired credentials")

// PrincipalOf finds the account of subject (user:<name> or
// serviceaccount:<name>) and checks that it is active: the one place every
// credential ends. Anything else is ErrUnauthenticated.
func PrincipalOf(r *store.ReadTxn, s subjects.Subject, method Method) (*Principal, error) {
	switch s.Kind {
	case subjects.User:
		u, err := r.User(s.Name)
		if err != nil || u == nil || !u.Active {
			return nil, ErrUnauthenticated
		}
		return &Principal{Kind: subjects.User, Name: u.Name, IsAdmin: u.IsAdmin, Method: method}, nil
	case subjects.ServiceAccount:
		a, err := r.ServiceAccount(s.Name)
		if err != nil || a == nil || !a.Active {
			return nil, ErrUnauthenticated
		}
		return &Principal{Kind: subjects.ServiceAccount, Name: a.Name, Method: method, Capabilities: a.Capabilities}, nil
	}
	return nil, ErrUnauthenticated
}
