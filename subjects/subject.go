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
