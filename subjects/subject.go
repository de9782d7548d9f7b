package subjects

import (
	"errors"
	"fmt"
	"strings"
)

// Kind is the kind of a subject.
type Kind string

// The subject kinds.
const (
	User           Kind = "user"
	Team           Kind = "team"
	Org            Kind = "org"
	ServiceAccount Kind = "serviceaccount"
	// KubernetesServiceAccount is a Kubernetes service account, named
	// "<namespace>/<name>" (kube-apiserver's system:serviceaccount:<ns>:<name>).
	// grantd holds no account for it: it is known once a grant names it.
	KubernetesServiceAccount Kind = "k8s-serviceaccount"
	Authenticated            Kind = "authenticated"
	Anonymous                Kind = "anonymous"
)

// ErrInvalidSubject is wrapped by every subject parsing error.
var ErrInvalidSubject = errors.New("invalid subject")

// Subject is a parsed subject string.
type Subject struct {
	Kind Kind
	// Name is the user, org or service-account name; for a team, the org.
	Name string
	// Team is the team name, for team subjects only.
	Team string
}

// String returns the canonical subject string; "" for the zero Subject.
func (s Subject) String() string {
	var buf [64]byte // most subjects fit: one allocation, the string's
	b, _ := s.AppendText(buf[:0])
	return string(b)
}

// AppendText appends the canonical subject string (String) to b, without
// making the string (encoding.TextAppender).
func (s Subject) AppendText(b []byte) ([]byte, error) {
	switch s.Kind {
	case "":
		return b, nil
	case Authenticated, Anonymous:
		return append(b, s.Kind...), nil
	case Team:
		b = append(b, "team:"...)
		b = append(b, s.Name...)
		b = append(b, '/')
		return append(b, s.Team...), nil
	}
	b = append(b, s.Kind...)
	b = append(b, ':')
	return append(b, s.Name...), nil
}

// TeamKey is "<org>/<team>", the key of a team.
func (s Subject) TeamKey() string { return s.Name + "/" + s.Team }

// ParseSubject parses and validates a subject string.
func ParseSubject(in string) (Subject, error) {
	switch in {
	case string(Authenticated):
		return Subject{Kind: Authenticated}, nil
	case string(Anonymous):
		return Subject{Kind: Anonymous}, nil
	}
	kind, rest, ok := strings.Cut(in, ":")
	if !ok {
		return Subject{}, fmt.Errorf("%w: %q is not of the form kind:name", ErrInvalidSubject, in)
	}
	s := Subject{Kind: Kind(kind), Name: rest}
	var err error
	switch s.Kind {
	case User, ServiceAccount:
		err = ValidUsername(rest)
	case Org:
		err = ValidOrgName(rest)
	case KubernetesServiceAccount:
		err = ValidKubernetesServiceAccount(rest)
	case Team:
		org, team, found := strings.Cut(rest, "/")
		if !found {
			return Subject{}, fmt.Errorf("%w: team subject %q must be team:<org>/<team>", ErrInvalidSubject, in)
		}
		s.Name, s.Team = org, team
		if err = ValidOrgName(org); err == nil {
			err = ValidOrgName(team)
		}
	default:
		return Subject{}, fmt.Errorf("%w: unknown subject kind %q", ErrInvalidSubject, kind)
	}
	if err != nil {
		return Subject{}, fmt.Errorf("%w: %w", ErrInvalidSubject, err)
	}
	return s, nil
}

// OfUser is the subject of a user.
func OfUser(name string) Subject { return Subject{Kind: User, Name: name} }

// OfServiceAccount is the subject of a service account.
func OfServiceAccount(name string) Subject { return Subject{Kind: ServiceAccount, Name: name} }

// OfTeam is the subject of a team.
func OfTeam(org, team string) Subject { return Subject{Kind: Team, Name: org, Team: team} }

// OfKubernetesServiceAccount is the subject of a Kubernetes service account.
func OfKubernetesServiceAccount(namespace, name string) Subject {
	return Subject{Kind: KubernetesServiceAccount, Name: namespace + "/" + name}
}

// OfOrg is the subject of an org.
func OfOrg(name string) Subject { return Subject{Kind: Org, Name: name} }

// IsZero reports whether s is the zero Subject (no subject at all).
func (s Subject) IsZero() bool { return s == Subject{} }

// IsAccount reports whether s is an account that can hold credentials: a
// user or a service account.
func (s Subject) IsAccount() bool { return s.Kind == User || s.Kind == ServiceAccount }

// MarshalText writes the canonical string: subjects are strings on the
// wire and in the state's JSON.
func (s Subject) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a subject the state holds. It checks the shape (a
// known kind, a team's org and name) but not the naming rules: the names
// were checked when they entered, and a later, stricter rule must not make
// a stored state unreadable. Input from outside goes through ParseSubject.
func (s *Subject) UnmarshalText(b []byte) error {
	p, err := ParseStored(string(b))
	if err == nil {
		*s = p
	}
	return err
}

// ParseStored reads a subject string that grantd itself wrote (the state,
// the compiled policy data): the shape is checked, the naming rules are
// not. Input from outside goes through ParseSubject.
func ParseStored(in string) (Subject, error) {
	switch Kind(in) {
	case Authenticated, Anonymous:
		return Subject{Kind: Kind(in)}, nil
	}
	kind, rest, ok := strings.Cut(in, ":")
	if !ok || rest == "" {
		return Subject{}, fmt.Errorf("%w: %q is not of the form kind:name", ErrInvalidSubject, in)
	}
	switch Kind(kind) {
	case User, ServiceAccount, Org, KubernetesServiceAccount:
		return Subject{Kind: Kind(kind), Name: rest}, nil
	case Team:
		org, team, found := strings.Cut(rest, "/")
		if !found {
			return Subject{}, fmt.Errorf("%w: team subject %q must be team:<org>/<team>", ErrInvalidSubject, in)
		}
		return Subject{Kind: Team, Name: org, Team: team}, nil
	}
	return Subject{}, fmt.Errorf("%w: unknown subject kind %q", ErrInvalidSubject, kind)
}

// The two subjects that name no account: every authenticated caller, and
// a caller without credentials.
var (
	AnyAuthenticated = Subject{Kind: Authenticated}
	AnonymousCaller  = Subject{Kind: Anonymous}
)

// MustParse is ParseSubject for constants and tests: it panics on a
// malformed subject.
func MustParse(in string) Subject {
	s, err := ParseSubject(in)
	if err != nil {
		panic(err)
	}
	return s
}
