package rights

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/grantd/grantd/roles"

	"github.com/grantd/grantd/authn"
	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
)

// state is acme with its org admin boss, member ann and team web, whose
// admin is lead.
type state struct{}

func (state) OrgMember(org, user string) (*store.OrgMember, error) {
	switch {
	case org == "acme" && user == "boss":
		return &store.OrgMember{Org: org, User: user, IsAdmin: true}, nil
	case org == "acme" && (user == "ann" || user == "lead"):
		return &store.OrgMember{Org: org, User: user}, nil
	}
	return nil, nil
}

func (state) TeamMember(org, team, user string) (*store.TeamMember, error) {
	if org == "acme" && team == "web" && user == "lead" {
		return &store.TeamMember{Org: org, Team: team, User: user, IsAdmin: true}, nil
	}
	return nil, nil
}

// Role knows the built-in roles.
func (state) Role(id string) (*store.Role, error) {
	if r, ok := roles.Builtin(id); ok {
		return &store.Role{Role: r}, nil
	}
	return nil, nil
}

// engine grants repository.manage_access on acme/app to ann only.
type engine struct{}

func (engine) Decide(_ context.Context, r authz.Request) authz.Decision {
	return authz.Decision{Allowed: r.Subject == subjects.MustParse("user:ann") && r.Repository == "acme/app" && r.Operation == "repository.manage_access"}
}

var (
	admin = &authn.Principal{Kind: subjects.User, Name: "root", IsAdmin: true}
	boss  = &authn.Principal{Kind: subjects.User, Name: "boss"}
	lead  = &authn.Principal{Kind: subjects.User, Name: "lead"}
	ann   = &authn.Principal{Kind: subjects.User, Name: "ann"}
	eve   = &authn.Principal{Kind: subjects.User, Name: "eve"}
	proxy = &authn.Principal{Kind: subjects.ServiceAccount, Name: "proxy", Capabilities: []string{store.CapabilityAuthorize}}
	bot   = &authn.Principal{Kind: subjects.ServiceAccount, Name: "bot"}
)

// TestWhoMayChangeWhat is the table of api.md's rules, each question
// asked of every kind of caller.
func TestWhoMayChangeWhat(t *testing.T) {
	ctx := context.Background()
	c := Checker{Decider: engine{}}
	s := state{}
	everyone := []*authn.Principal{admin, boss, lead, ann, eve, proxy, bot}
	rows := []struct {
		name    string
		ask     func(p *authn.Principal) error
		allowed []*authn.Principal
	}{
		{"administer org acme", func(p *authn.Principal) error { return RequireOrgAdmin(s, p, "acme") }, []*authn.Principal{admin, boss}},
		{"administer team acme/web", func(p *authn.Principal) error { return RequireTeamAdmin(s, p, "acme", "web") }, []*authn.Principal{admin, boss, lead}},
		{"add org member ann to acme/web", func(p *authn.Principal) error { return MayAddTeamMember(s, p, "acme", "web", "ann") }, []*authn.Principal{admin, boss, lead}},
		{"bring stranger eve into acme/web", func(p *authn.Principal) error { return MayAddTeamMember(s, p, "acme", "web", "eve") }, []*authn.Principal{admin, boss}},
		{"act on user ann", func(p *authn.Principal) error { return SelfOrAdmin(p, "ann") }, []*authn.Principal{admin, ann}},
		{"ask about user:ann", func(p *authn.Principal) error { return MayAsk(p, subjects.MustParse("user:ann")) }, []*authn.Principal{admin, ann, proxy}},
		{"create a credential for oneself", func(p *authn.Principal) error { _, err := NewCredentialOwner(p, subjects.Subject{}); return err }, []*authn.Principal{admin, boss, lead, ann, eve}},
		{"create a credential for serviceaccount:bot", func(p *authn.Principal) error {
			_, err := NewCredentialOwner(p, subjects.MustParse("serviceaccount:bot"))
			return err
		}, []*authn.Principal{admin}},
		{"grant on a collection", func(p *authn.Principal) error {
			return c.GrantRight(ctx, s, p, subjects.MustParseObject("collection:/prod"), roles.ViewOnly)
		}, []*authn.Principal{admin}},
		{"grant on repository acme/app", func(p *authn.Principal) error {
			return c.GrantRight(ctx, s, p, subjects.MustParseObject("repository:acme/app"), roles.RepoAdmin)
		}, []*authn.Principal{admin, boss, ann}},
		{"grant on namespace acme", func(p *authn.Principal) error {
			return c.GrantRight(ctx, s, p, subjects.MustParseObject("namespace:acme"), roles.RepoReadOnly)
		}, []*authn.Principal{admin, boss}},
		{"grant Kubernetes access to namespace acme", func(p *authn.Principal) error {
			return c.GrantRight(ctx, s, p, subjects.MustParseObject("namespace:acme"), roles.RestrictedControl)
		}, []*authn.Principal{admin}},
		{"revoke Kubernetes access to ann's namespace", func(p *authn.Principal) error {
			return c.GrantRight(ctx, s, p, subjects.MustParseObject("namespace:ann"), roles.FullControl)
		}, []*authn.Principal{admin}},
		{"grant on ann's own namespace", func(p *authn.Principal) error {
			return c.GrantRight(ctx, s, p, subjects.MustParseObject("namespace:ann"), roles.RepoReadWrite)
		}, []*authn.Principal{admin, ann}},
		{"list ann's grants", func(p *authn.Principal) error {
			return c.MayListGrants(ctx, s, p, subjects.MustParse("user:ann"), subjects.Object{})
		}, []*authn.Principal{admin, ann}},
		{"list every grant", func(p *authn.Principal) error {
			return c.MayListGrants(ctx, s, p, subjects.Subject{}, subjects.Object{})
		}, []*authn.Principal{admin}},
		{"read a grant held by ann", func(p *authn.Principal) error {
			return c.MayReadGrant(ctx, s, p, &store.Grant{Subject: subjects.MustParse("user:ann"), Object: subjects.MustParseObject("collection:/prod")})
		}, []*authn.Principal{admin, ann}},
		{"list every account's bundles", ListEveryAccount, []*authn.Principal{admin}},
		{"be a daemon's decision service", DecisionService, []*authn.Principal{proxy}},
	}
	for _, row := range rows {
		for _, p := range everyone {
			err := row.ask(p)
			want := contains(row.allowed, p)
			switch {
			case want && err != nil:
				t.Errorf("%s as %s: %v, want allowed", row.name, p.Subject(), err)
			case !want && !errors.Is(err, ErrDenied):
				t.Errorf("%s as %s: %v, want a Denial", row.name, p.Subject(), err)
			}
		}
	}
	if _, err := CredentialOwner(admin, subjects.MustParse("team:acme/web")); !errors.Is(err, ErrInvalid) {
		t.Errorf("a team as a credential owner: %v, want ErrInvalid", err)
	}
	if ok, _ := TeamSyncMayAddNonMembers(s, lead, "acme"); ok {
		t.Error("a team admin's sync may add non-members")
	}
	if !ManagesCredential(ann, subjects.MustParse("user:ann")) || ManagesCredential(ann, subjects.MustParse("user:eve")) || !ManagesCredential(admin, subjects.MustParse("user:eve")) {
		t.Error("ManagesCredential")
	}
	if MustProveOldPassword(admin) || !MustProveOldPassword(ann) {
		t.Error("MustProveOldPassword")
	}
}

func contains(ps []*authn.Principal, p *authn.Principal) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

func ExampleRequireTeamAdmin() {
	err := RequireTeamAdmin(state{}, ann, "acme", "web")
	fmt.Println(errors.Is(err, ErrDenied), err)
	// Output: true only system admins and admins of org "acme" or team acme/web may do this
}
