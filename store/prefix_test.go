package store

import "testing"

// Teams, members and repositories are listed through their compound id
// by its leading fields; a name that extends another ("acme" and
// "acme2", team "dev" and "dev2") is not matched by it.
func TestListsByLeadingIDFieldsAreExact(t *testing.T) {
	s := newStore(t)
	mustApply(t, s, user("maria"), user("paolo"),
		CreateOrg{Org: Org{Name: "acme"}}, CreateOrg{Org: Org{Name: "acme2"}},
		CreateTeam{Team: Team{Org: "acme", Name: "dev"}}, CreateTeam{Team: Team{Org: "acme", Name: "dev2"}},
		CreateTeam{Team: Team{Org: "acme2", Name: "dev"}},
		SetTeamMember{Member: TeamMember{Org: "acme", Team: "dev", User: "maria"}},
		SetTeamMember{Member: TeamMember{Org: "acme", Team: "dev2", User: "paolo"}},
		SetTeamMember{Member: TeamMember{Org: "acme2", Team: "dev", User: "paolo"}},
		CreateRepository{Repository: Repository{Namespace: "acme2", Name: "web", Visibility: "private"}})
	r := s.Read()
	count := func(what string, n int, err error, want int) {
		t.Helper()
		if err != nil || n != want {
			t.Errorf("%s: %d (%v), want %d", what, n, err, want)
		}
	}
	teams, err := r.Teams("acme")
	count("teams of acme", len(teams), err, 2)
	members, err := r.OrgMembers("acme")
	count("members of acme", len(members), err, 2)
	members, err = r.OrgMembers("acme2")
	count("members of acme2", len(members), err, 1)
	tms, err := r.TeamMembers("acme", "dev")
	count("members of acme/dev", len(tms), err, 1)
	if len(tms) == 1 && tms[0].User != "maria" {
		t.Errorf("acme/dev member %q", tms[0].User)
	}
	repos, err := r.Repositories("acme")
	count("repositories of acme", len(repos), err, 0)

	// acme owns no repository, so it can be deleted; acme2's teams,
	// members and repository stay.
	mustApply(t, s, DeleteOrg{Name: "acme"})
	r = s.Read()
	teams, err = r.Teams("acme2")
	count("teams of acme2", len(teams), err, 1)
	tms, err = r.TeamMembers("acme2", "dev")
	count("members of acme2/dev", len(tms), err, 1)
	repos, err = r.Repositories("acme2")
	count("repositories of acme2", len(repos), err, 1)
	wantErr(t, s, DeleteOrg{Name: "acme2"}, ErrConflict)
}

// A second grant of the same subject, role and object is refused.
func TestDuplicateGrantRefused(t *testing.T) {
	s := newStore(t)
	mustApply(t, s, user("maria"), grant("g1", "user:maria", "viewonly", "collection:/Shared"),
		grant("g2", "user:maria", "fullcontrol", "collection:/Shared"))
	wantErr(t, s, grant("g3", "user:maria", "viewonly", "collection:/Shared"), ErrAlreadyExists)
}
