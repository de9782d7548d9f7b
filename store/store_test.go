package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/subjects"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// bbolt and raft's log cache leave no goroutines, but hclog's
		// background flushers and the inmem transport's may outlive Close briefly.
		goleak.IgnoreTopFunction("github.com/hashicorp/raft.(*InmemTransport).consumer"))
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	cfg := DefaultConfig(dir)
	cfg.SnapshotThreshold = 1 << 20
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// newStore opens a bootstrapped store in a fresh directory.
func newStore(t *testing.T) *Store {
	t.Helper()
	s := openStore(t, t.TempDir())
	t.Cleanup(func() { _ = s.Close() })
	mustApply(t, s, Bootstrap{Admin: User{Name: "admin", PasswordHash: "h"}, Time: t0,
		SharedGrantID: "g-shared", AdminGrantID: "g-admin"})
	return s
}

func mustApply(t *testing.T, s *Store, cmds ...Command) uint64 {
	t.Helper()
	var rev uint64
	for _, c := range cmds {
		r, err := s.Apply(context.Background(), c)
		if err != nil {
			t.Fatalf("apply %T: %v", c, err)
		}
		rev = r
	}
	return rev
}

func wantErr(t *testing.T, s *Store, c Command, want error) {
	t.Helper()
	before := s.Read()
	var buf1, buf2 bytes.Buffer
	_ = (&fsmSnapshot{txn: before.txn}).write(&buf1)
	_, err := s.Apply(context.Background(), c)
	if !errors.Is(err, want) {
		t.Fatalf("apply %T %+v: err = %v, want %v", c, c, err, want)
	}
	_ = (&fsmSnapshot{txn: s.Read().txn}).write(&buf2)
	if !bytes.Equal(buf1.Bytes(), buf2.Bytes()) {
		t.Fatalf("rejected %T changed the state", c)
	}
}

func user(name string) CreateUser {
	return CreateUser{User: User{Name: name, Active: true, CreatedAt: t0}, PrivateGrantID: "g-private-" + name}
}

func grant(id, subject, role, object string) CreateGrant {
	return CreateGrant{Grant: Grant{ID: id, Subject: subjects.MustParse(subject), Role: role, Object: subjects.MustParseObject(object), CreatedAt: t0}}
}

func TestBootstrap(t *testing.T) {
	s := newStore(t)
	r := s.Read()
	if ok, _ := r.Bootstrapped(); !ok {
		t.Fatal("not bootstrapped")
	}
	for _, p := range []string{"/", "/System", "/Shared", "/Shared/Private", "/Shared/Legacy", "/Shared/Private/admin"} {
		if c, _ := r.Collection(p); c == nil || !c.Builtin {
			t.Errorf("built-in collection %s: %+v", p, c)
		}
	}
	all, _ := r.Roles()
	if len(all) != len(roles.Builtins()) {
		t.Errorf("roles: %d", len(all))
	}
	admin, _ := r.User("admin")
	if admin == nil || !admin.IsAdmin || !admin.Active || !admin.Recovery {
		t.Errorf("admin = %+v", admin)
	}
	if g, _ := r.Grant("g-shared"); g == nil || g.Subject != subjects.MustParse("authenticated") || g.Role != "scheduler" || g.Object != subjects.MustParseObject("collection:/Shared") {
		t.Errorf("shared grant = %+v", g)
	}
	if g, _ := r.Grant("g-admin"); g == nil || g.Role != "restrictedcontrol" || g.Object != subjects.MustParseObject("collection:/Shared/Private/admin") {
		t.Errorf("admin private grant = %+v", g)
	}
	wantErr(t, s, Bootstrap{Admin: User{Name: "other"}, SharedGrantID: "x", AdminGrantID: "y"}, ErrFailedPrecondition)
}

func TestUsers(t *testing.T) {
	s := newStore(t)
	mustApply(t, s, user("alice"))
	r := s.Read()
	u, _ := r.User("alice")
	if u == nil || u.DefaultCollection != "/Shared/Private/alice" || u.Source != SourceLocal {
		t.Fatalf("alice = %+v", u)
	}
	if g, _ := r.Grant("g-private-alice"); g == nil || g.Subject != subjects.MustParse("user:alice") {
		t.Fatalf("private grant = %+v", g)
	}
	wantErr(t, s, user("alice"), ErrAlreadyExists)

	f := false
	wantErr(t, s, UpdateUser{Name: "admin", IsAdmin: &f}, ErrFailedPrecondition)
	wantErr(t, s, UpdateUser{Name: "admin", Active: &f}, ErrFailedPrecondition)
	wantErr(t, s, UpdateUser{Name: "nobody", Active: &f}, ErrNotFound)
	wantErr(t, s, DeleteUser{Name: "admin"}, ErrFailedPrecondition)
	missing := "/nowhere"
	wantErr(t, s, UpdateUser{Name: "alice", DefaultCollection: &missing}, ErrNotFound)
	mustApply(t, s, UpdateUser{Name: "alice", Active: &f})
	if u, _ := s.Read().User("alice"); u.Active {
		t.Error("alice still active")
	}

	// Deleting a user removes everything that hangs on them.
	mustApply(t, s, CreateOrg{Org: Org{Name: "acme"}}, CreateTeam{Team: Team{Org: "acme", Name: "dev"}},
		SetTeamMember{Member: TeamMember{Org: "acme", Team: "dev", User: "alice"}},
		CreateSession{Session: Session{ID: "s1", User: "admin", ExpiresAt: t0.Add(time.Hour)}},
		CreateAPIToken{Token: APIToken{ID: "t1", Name: "ci", Owner: subjects.MustParse("user:alice"), Hash: "h1"}})
	mustApply(t, s, DeleteUser{Name: "alice"})
	r = s.Read()
	if u, _ := r.User("alice"); u != nil {
		t.Error("alice not deleted")
	}
	if m, _ := r.OrgsOfUser("alice"); len(m) != 0 {
		t.Error("org membership left behind")
	}
	if m, _ := r.TeamsOfUser("alice"); len(m) != 0 {
		t.Error("team membership left behind")
	}
	if g, _ := r.GrantsOfSubject(subjects.MustParse("user:alice")); len(g) != 0 {
		t.Error("grants left behind")
	}
	if c, _ := r.Collection("/Shared/Private/alice"); c != nil {
		t.Error("private collection left behind")
	}
	if tok, _ := r.APITokenByHash("h1"); tok != nil {
		t.Error("token left behind")
	}
}

func TestOrgsTeamsMemberships(t *testing.T) {
	s := newStore(t)
	mustApply(t, s, user("maria"), user("paolo"), CreateOrg{Org: Org{Name: "acme"}},
		CreateTeam{Team: Team{Org: "acme", Name: "mobile"}})
	wantErr(t, s, CreateOrg{Org: Org{Name: "acme"}}, ErrAlreadyExists)
	wantErr(t, s, CreateOrg{Org: Org{Name: "maria"}}, ErrAlreadyExists) // namespaces are shared
	wantErr(t, s, user("acme"), ErrAlreadyExists)
	wantErr(t, s, CreateTeam{Team: Team{Org: "nope", Name: "t"}}, ErrNotFound)
	wantErr(t, s, CreateTeam{Team: Team{Org: "acme", Name: "mobile"}}, ErrAlreadyExists)
	wantErr(t, s, SetTeamMember{Member: TeamMember{Org: "acme", Team: "mobile", User: "ghost"}}, ErrNotFound)
	wantErr(t, s, SetOrgMember{Member: OrgMember{Org: "nope", User: "maria"}}, ErrNotFound)

	// Joining a team joins its org.
	mustApply(t, s, SetTeamMember{Member: TeamMember{Org: "acme", Team: "mobile", User: "maria", IsAdmin: true}})
	r := s.Read()
	if m, _ := r.OrgMember("acme", "maria"); m == nil || m.IsAdmin {
		t.Fatalf("org membership = %+v", m)
	}
	if m, _ := r.TeamMember("acme", "mobile", "maria"); m == nil || !m.IsAdmin {
		t.Fatalf("team membership = %+v", m)
	}
	// Leaving the org leaves its teams.
	mustApply(t, s, RemoveOrgMember{Org: "acme", User: "maria"})
	if m, _ := s.Read().TeamsOfUser("maria"); len(m) != 0 {
		t.Fatalf("team memberships after leaving org: %v", m)
	}
	wantErr(t, s, RemoveOrgMember{Org: "acme", User: "maria"}, ErrNotFound)
	wantErr(t, s, RemoveTeamMember{Org: "acme", Team: "mobile", User: "maria"}, ErrNotFound)

	// Deleting an org deletes its teams and the grants they hold.
	mustApply(t, s, SetTeamMember{Member: TeamMember{Org: "acme", Team: "mobile", User: "paolo"}},
		grant("g1", "team:acme/mobile", "viewonly", "collection:/Shared"),
		grant("g2", "org:acme", "viewonly", "collection:/Shared"))
	mustApply(t, s, DeleteOrg{Name: "acme"})
	r = s.Read()
	if tm, _ := r.Team("acme", "mobile"); tm != nil {
		t.Error("team survived its org")
	}
	for _, id := range []string{"g1", "g2"} {
		if g, _ := r.Grant(id); g != nil {
			t.Errorf("grant %s survived", id)
		}
	}
	if m, _ := r.OrgsOfUser("paolo"); len(m) != 0 {
		t.Error("org membership survived")
	}
}

func TestCollections(t *testing.T) {
	s := newStore(t)
	mk := func(p string) CreateCollection { return CreateCollection{Collection: Collection{Path: p}} }
	mustApply(t, s, mk("/production"), mk("/production/mobile"))
	wantErr(t, s, mk("/production"), ErrAlreadyExists)
	wantErr(t, s, mk("/staging/mobile"), ErrNotFound)
	wantErr(t, s, mk("/a//b"), ErrInvalid)
	wantErr(t, s, mk("/"), ErrInvalid)
	wantErr(t, s, mk("/Shared/Private/bob"), ErrFailedPrecondition)
	if c, _ := s.Read().Children("/production"); len(c) != 1 || c[0].Path != "/production/mobile" {
		t.Fatalf("children = %v", c)
	}
	wantErr(t, s, DeleteCollection{Path: "/production"}, ErrConflict) // has children
	wantErr(t, s, DeleteCollection{Path: "/Shared"}, ErrFailedPrecondition)
	wantErr(t, s, DeleteCollection{Path: "/Shared/Private/admin"}, ErrFailedPrecondition)
	wantErr(t, s, DeleteCollection{Path: "/nope"}, ErrNotFound)

	mustApply(t, s, grant("g1", "authenticated", "viewonly", "collection:/production/mobile"))
	wantErr(t, s, DeleteCollection{Path: "/production/mobile"}, ErrConflict) // grants, no force
	mustApply(t, s, DeleteCollection{Path: "/production/mobile", Force: true})
	if g, _ := s.Read().Grant("g1"); g != nil {
		t.Error("force did not delete the grant")
	}
	mustApply(t, s, DeleteCollection{Path: "/production"})
}

func TestRolesAndGrants(t *testing.T) {
	s := newStore(t)
	dev := CreateRole{Role: Role{Role: roles.Role{ID: "developer", Permissions: []roles.Permission{
		{Operation: "container.logs"}, {Operation: "container.create", Options: []string{"privileged"}}}}}}
	mustApply(t, s, dev, user("maria"), CreateOrg{Org: Org{Name: "web"}}, CreateTeam{Team: Team{Org: "web", Name: "qa"}},
		CreateCollection{Collection: Collection{Path: "/prod"}},
		CreateRepository{Repository: Repository{Namespace: "web", Name: "app"}},
		CreateRepository{Repository: Repository{Namespace: "maria", Name: "tool"}})
	wantErr(t, s, dev, ErrAlreadyExists)
	wantErr(t, s, CreateRole{Role: Role{Role: roles.Role{ID: "bad", Permissions: []roles.Permission{{Operation: "x.y"}}}}}, ErrInvalid)
	wantErr(t, s, CreateRole{Role: Role{Role: roles.Role{ID: "viewonly", Permissions: []roles.Permission{{Operation: "container.logs"}}}}}, ErrInvalid)

	mustApply(t, s, grant("g1", "team:web/qa", "developer", "collection:/prod"))
	bad := []struct {
		c    CreateGrant
		want error
	}{
		{grant("g1", "user:maria", "viewonly", "collection:/prod"), ErrAlreadyExists},                                                                                     // same ID
		{grant("g2", "team:web/qa", "developer", "collection:/prod"), ErrAlreadyExists},                                                                                   // same triple
		{grant("g3", "user:ghost", "viewonly", "collection:/prod"), ErrNotFound},                                                                                          // subject
		{grant("g4", "team:web/ops", "viewonly", "collection:/prod"), ErrNotFound},                                                                                        // team
		{grant("g5", "user:maria", "nope", "collection:/prod"), ErrNotFound},                                                                                              // role
		{grant("g6", "user:maria", "viewonly", "collection:/staging"), ErrNotFound},                                                                                       // object
		{grant("g7", "user:maria", "repo-admin", "collection:/prod"), ErrInvalid},                                                                                         // kind
		{grant("g8", "user:maria", "viewonly", "repository:web/app"), ErrInvalid},                                                                                         // kind
		{grant("g9", "user:maria", "repo-read-only", "repository:web/app"), ErrInvalid},                                                                                   // org repo to a user
		{grant("g10", "team:web/qa", "repo-read-only", "repository:maria/tool"), ErrInvalid},                                                                              // user repo to a team
		{grant("g11", "user:maria", "viewonly", "collection:/prod/x"), ErrNotFound},                                                                                       // missing child
		{CreateGrant{Grant: Grant{ID: "g12", Subject: subjects.Subject{Kind: "robot", Name: "x"}, Role: "viewonly", Object: subjects.CollectionOf("/prod")}}, ErrInvalid}, // no such kind
		{CreateGrant{Grant: Grant{ID: "g13", Subject: subjects.MustParse("user:maria"), Role: "viewonly", Object: subjects.MustParseObject("collection:/prod"), Scope: "deep"}}, ErrInvalid},
		{grant("g14", "team:web/qa", "repo-read-only", "repository:web/ghost"), ErrNotFound}, // missing repo
	}
	for _, b := range bad {
		wantErr(t, s, b.c, b.want)
	}
	mustApply(t, s, grant("g20", "team:web/qa", "repo-read-only", "repository:web/app"),
		grant("g21", "user:maria", "repo-read-write", "repository:maria/tool"),
		CreateGrant{Grant: Grant{ID: "g22", Subject: subjects.MustParse("user:maria"), Role: "viewonly", Object: subjects.MustParseObject("collection:/prod"), Scope: ScopeExact}})

	wantErr(t, s, DeleteRole{ID: "developer"}, ErrConflict)
	wantErr(t, s, DeleteRole{ID: "fullcontrol"}, ErrFailedPrecondition)
	mustApply(t, s, DeleteGrant{ID: "g1"}, DeleteRole{ID: "developer"})
	wantErr(t, s, DeleteGrant{ID: "g1"}, ErrNotFound)
	// Deleting a repository deletes its grants.
	mustApply(t, s, DeleteRepository{Namespace: "web", Name: "app"})
	if g, _ := s.Read().Grant("g20"); g != nil {
		t.Error("repository grant survived")
	}
}

func TestSettingsAndSessions(t *testing.T) {
	s := newStore(t)
	set := DefaultSettings()
	set.DefaultPrivateRole = "fullcontrol"
	mustApply(t, s, UpdateSettings{Settings: set})
	mustApply(t, s, user("newbie"))
	if g, _ := s.Read().Grant("g-private-newbie"); g.Role != "fullcontrol" {
		t.Errorf("new user's private grant uses %s", g.Role)
	}
	for _, mod := range []func(*Settings){
		func(s *Settings) { s.DefaultPrivateRole = "nope" },
		func(s *Settings) { s.DefaultPrivateRole = "repo-admin" },
		func(s *Settings) { s.Sessions.LifetimeMinutes = 9 },
		func(s *Settings) { s.Sessions.RenewalThresholdMinutes = 56 },
		func(s *Settings) { s.Sessions.PerUserLimit = -1 },
	} {
		bad := DefaultSettings()
		mod(&bad)
		_, err := s.Apply(context.Background(), UpdateSettings{Settings: bad})
		if err == nil {
			t.Errorf("settings %+v accepted", bad)
		}
	}
	for i := range 4 {
		mustApply(t, s, CreateSession{Session: Session{ID: fmt.Sprint("s", i), User: "newbie",
			CreatedAt: t0.Add(time.Duration(i) * time.Minute)}, PerUserLimit: 3})
	}
	got, _ := s.Read().SessionsOfUser("newbie")
	if len(got) != 3 {
		t.Fatalf("sessions = %d, want 3", len(got))
	}
	if old, _ := s.Read().Session("s0"); old != nil {
		t.Error("oldest session kept over the limit")
	}
	f := false
	mustApply(t, s, UpdateUser{Name: "newbie", Active: &f})
	wantErr(t, s, CreateSession{Session: Session{ID: "s9", User: "newbie"}}, ErrFailedPrecondition)
}

func TestBatchIsAtomic(t *testing.T) {
	s := newStore(t)
	wantErr(t, s, Batch{Commands: []Command{user("one"), user("two"), user("one")}}, ErrAlreadyExists)
	mustApply(t, s, Batch{Commands: []Command{user("one"), user("two")}})
	for _, n := range []string{"one", "two"} {
		if u, _ := s.Read().User(n); u == nil {
			t.Errorf("%s missing after batch", n)
		}
	}
}

func TestReadsHandOutCopies(t *testing.T) {
	s := newStore(t)
	r, _ := s.Read().Role("fullcontrol")
	r.Permissions[0].Options = append(r.Permissions[0].Options, "mutated")
	r.Permissions = nil
	again, _ := s.Read().Role("fullcontrol")
	if len(again.Permissions) == 0 {
		t.Fatal("mutating a read changed the store")
	}
	for _, o := range again.Permissions[0].Options {
		if o == "mutated" {
			t.Fatal("mutating a read's options changed the store")
		}
	}
}

func TestPaging(t *testing.T) {
	s := newStore(t)
	for _, n := range []string{"b", "d", "a", "c"} {
		mustApply(t, s, user(n))
	}
	var names []string
	after := ""
	for {
		page, err := s.Read().Users("", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, u := range page {
			names = append(names, u.Name)
		}
		after = page[len(page)-1].Name
	}
	if fmt.Sprint(names) != "[a admin b c d]" {
		t.Fatalf("paged users = %v", names)
	}
	mustApply(t, s, user("ad"), user("adz"))
	withPrefix, _ := s.Read().Users("ad", "", 0)
	if len(withPrefix) != 3 || withPrefix[0].Name != "ad" || withPrefix[2].Name != "adz" {
		t.Fatalf("prefix ad = %d users", len(withPrefix))
	}
	rest, _ := s.Read().Users("ad", "admin", 0)
	if len(rest) != 1 || rest[0].Name != "adz" {
		t.Fatalf("prefix ad after admin = %v", rest)
	}
}

func TestCommandEncodingRoundTrip(t *testing.T) {
	for k := kindBatch; k <= kindRevokeClientCert; k++ {
		c, err := newCommand(k)
		if err != nil {
			t.Fatalf("kind %d has no command", k)
		}
		if c.kind() != k {
			t.Fatalf("kind %d decodes to %T of kind %d", k, c, c.kind())
		}
	}
	b := Batch{Commands: []Command{user("x"), DeleteGrant{ID: "g"}}}
	enc, err := encodeCommand(b)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := decodeCommand(enc)
	if err != nil {
		t.Fatal(err)
	}
	got := dec.(*Batch)
	if len(got.Commands) != 2 || got.Commands[0].(*CreateUser).User.Name != "x" || got.Commands[1].(*DeleteGrant).ID != "g" {
		t.Fatalf("batch round trip = %+v", got)
	}
	if _, err := decodeCommand([]byte{0xff, '{', '}'}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown kind: %v", err)
	}
	if _, err := decodeCommand(nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty: %v", err)
	}
}

func TestSyncReportsKeepTheLast50WithTheirRevision(t *testing.T) {
	s := newStore(t)
	var last uint64
	for i := uint64(1); i <= 55; i++ {
		last = mustApply(t, s, RecordSyncReport{Report: SyncReport{ID: i, Report: json.RawMessage(`{"state":"succeeded"}`)}})
	}
	reps, err := s.Read().SyncReports()
	if err != nil || len(reps) != SyncReportsKept || reps[0].ID != 55 || reps[len(reps)-1].ID != 6 {
		t.Fatalf("reports: %d (%v), want 55 down to 6", len(reps), err)
	}
	if reps[0].Revision != last {
		t.Errorf("newest report revision %d, want the write's %d", reps[0].Revision, last)
	}
	if r, _ := s.Read().SyncReport(3); r != nil {
		t.Error("an old report was kept")
	}
	wantErr(t, s, RecordSyncReport{Report: SyncReport{ID: 0, Report: json.RawMessage(`{}`)}}, ErrInvalid)
}
