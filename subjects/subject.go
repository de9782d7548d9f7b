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
	Authenticated  Kind = "authenticated"
	Anonymous      Kind = "anonymous"
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

// String returns the canonical subject string.
func (s Subject) String() string {
	switch s.Kind {
	case Authenticated, Anonymous:
		return string(s.Kind)
	case Team:
		return "team:" + s.Name + "/" + s.Team
	}
	return string(s.Kind) + ":" + s.Name
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

// OfUser is the subject string of a user.
func OfUser(name string) string { return Subject{Kind: User, Name: name}.String() }

// OfServiceAccount is the subject string of a service account.
func OfServiceAccount(name string) string { return Subject{Kind: ServiceAccount, Name: name}.String() }

// OfTeam is the subject string of a team.
func OfTeam(org, team string) string { return Subject{Kind: Team, Name: org, Team: team}.String() }

// OfOrg is the subject string of an org.
func OfOrg(name string) string { return Subject{Kind: Org, Name: name}.String() }

// Split cuts a subject string the state already holds (so validated when
// it entered) into its kind and the rest, without validating it again:
// for the hot paths that read stored subjects. "authenticated" and
// "anonymous" have no rest. Input from outside goes through ParseSubject.
func Split(s string) (Kind, string) {
	kind, rest, _ := strings.Cut(s, ":")
	return Kind(kind), rest
}
