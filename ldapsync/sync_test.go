package ldapsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/grantd/grantd/ldapsync/ldaptest"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
)

const groups = "ou=groups,dc=example,dc=com"

// syncFixture is a real store and a real slapd with people and groups:
// devs (groupOfNames: alice, bob), ops (groupOfUniqueNames: carol) and
// admins (groupOfNames: alice).
type syncFixture struct {
	t      *testing.T
	st     *store.Store
	dir    *ldaptest.Server
	syncer *Syncer
	ctx    context.Context
}

func newSyncFixture(t *testing.T, jit bool, extraLDIF string) *syncFixture {
	t.Helper()
	dir := testDirectory(t, ldaptest.Options{LDIF: extraLDIF,
		OnlineLDIF: ldaptest.Group(groups, "admins", "member", "uid=alice,"+people)})
	cfg := store.DefaultConfig(t.TempDir())
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ctx := context.Background()
	if err := st.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	f := &syncFixture{t: t, st: st, dir: dir, ctx: ctx,
		syncer: NewSyncer(st, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now, nil)}
	f.apply(store.Bootstrap{Admin: store.User{Name: "admin", PasswordHash: "x", Source: store.SourceLocal},
		SharedGrantID: "g-shared", AdminGrantID: "g-admin"})
	c := config(dir)
	c.JITUserProvisioning = jit
	f.setConfig(c)
	f.apply(store.CreateOrg{Org: store.Org{Name: "eng"}})
	f.apply(store.CreateTeam{Team: store.Team{Org: "eng", Name: "devs"}})
	f.apply(store.CreateTeam{Team: store.Team{Org: "eng", Name: "ops"}})
	f.apply(store.UpdateTeam{Org: "eng", Name: "devs", LDAPSync: &store.LDAPGroupSync{Enabled: true,
		GroupDN: "cn=devs," + groups, GroupMemberAttr: "member"}})
	f.apply(store.UpdateTeam{Org: "eng", Name: "ops", LDAPSync: &store.LDAPGroupSync{Enabled: true,
		GroupDN: "cn=ops," + groups, GroupMemberAttr: "uniqueMember"}})
	return f
}

func (f *syncFixture) apply(c store.Command) {
	f.t.Helper()
	if _, err := f.st.Apply(f.ctx, c); err != nil {
		f.t.Fatalf("%T: %v", c, err)
	}
}

func (f *syncFixture) setConfig(c Config) {
	f.t.Helper()
	doc, err := json.Marshal(c)
	if err != nil {
		f.t.Fatal(err)
	}
	f.apply(store.UpdateLDAPConfig{Config: doc})
}

func (f *syncFixture) config() Config {
	f.t.Helper()
	c, err := StoredConfig(f.st.Read())
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// run runs a sync to its end.
func (f *syncFixture) run(opts Options) Report {
	f.t.Helper()
	rep, err := f.syncer.Start(opts).Wait(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return rep
}

func (f *syncFixture) user(name string) *store.User {
	f.t.Helper()
	u, err := f.st.Read().User(name)
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

func (f *syncFixture) members(org, team string) []string {
	f.t.Helper()
	ms, err := f.st.Read().TeamMembers(org, team)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.User)
	}
	slices.Sort(out)
	return out
}

// deleteEntry removes an entry (and its group memberships) from the directory.
func (f *syncFixture) deleteEntry(dn string) {
	f.t.Helper()
	f.dir.Modify(f.t, func(c *ldap.Conn) error {
		for _, g := range []struct{ dn, attr string }{{"cn=devs," + groups, "member"}, {"cn=admins," + groups, "member"}} {
			m := ldap.NewModifyRequest(g.dn, nil)
			m.Delete(g.attr, []string{dn})
			if err := c.Modify(m); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchAttribute) {
				return err
			}
		}
		return c.Del(ldap.NewDelRequest(dn, nil))
	})
}

func wantCounts(t *testing.T, rep Report, want Counts) {
	t.Helper()
	if rep.Counts != want {
		t.Errorf("run %d counts\n got %+v\nwant %+v\n(errors %v)", rep.ID, rep.Counts, want, rep.Errors)
	}
}

func TestSyncWithoutJITCreatesDeactivatesAndReactivates(t *testing.T) {
	f := newSyncFixture(t, false, "")
	// A local user in a synced team is left alone by the sync.
	f.apply(store.CreateUser{User: store.User{Name: "lee", Active: true}, PrivateGrantID: "g-lee"})
	f.apply(store.SetTeamMember{Member: store.TeamMember{Org: "eng", Team: "devs", User: "lee"}})

	rep := f.run(Options{Trigger: "test"})
	if rep.State != StateSucceeded {
		t.Fatalf("first run: %+v", rep)
	}
	wantCounts(t, rep, Counts{Created: 3, MembershipsAdded: 3, SkippedInvalidNames: 2})
	alice := f.user("alice")
	if alice == nil || alice.Source != store.SourceLDAP || alice.LDAPDN != "uid=alice,"+people ||
		alice.FullName != "Alice Liddell" || !alice.Active || alice.DefaultCollection != "/Shared/Private/alice" {
		t.Fatalf("alice: %+v", alice)
	}
	if g, _ := f.st.Read().GrantsOfSubject(subjects.MustParse("user:alice")); len(g) != 1 || g[0].Object != subjects.MustParseObject("collection:/Shared/Private/alice") {
		t.Errorf("alice's private grant: %+v", g)
	}
	if got := f.members("eng", "devs"); !slices.Equal(got, []string{"alice", "bob", "lee"}) {
		t.Errorf("devs: %v", got)
	}
	if got := f.members("eng", "ops"); !slices.Equal(got, []string{"carol"}) {
		t.Errorf("ops (groupOfUniqueNames): %v", got)
	}

	// Idempotent: nothing changed in the directory, nothing is written but
	// the report.
	before := f.st.Revision()
	rep = f.run(Options{})
	if rep.State != StateSucceeded || rep.Changes != 0 || rep.Revision != before+1 {
		t.Errorf("re-sync: %+v (revision before %d)", rep, before)
	}
	wantCounts(t, rep, Counts{SkippedInvalidNames: 2})

	// bob leaves the directory: deactivated, out of devs; lee stays.
	f.deleteEntry("uid=bob," + people)
	rep = f.run(Options{Force: true}) // 1 of 3 is over the 20% threshold
	wantCounts(t, rep, Counts{Deactivated: 1, MembershipsRemoved: 1, SkippedInvalidNames: 2})
	if bob := f.user("bob"); bob.Active || !bob.GoneFromDirectory {
		t.Errorf("bob after leaving: %+v", bob)
	}
	if got := f.members("eng", "devs"); !slices.Equal(got, []string{"alice", "lee"}) {
		t.Errorf("devs without bob: %v", got)
	}

	// bob comes back with a new name: reactivated and updated.
	f.dir.Add(t, ldaptest.Person(people, "bob", "Robert Builder", "bob-pw"))
	rep = f.run(Options{})
	wantCounts(t, rep, Counts{Updated: 1, Reactivated: 1, SkippedInvalidNames: 2})
	if bob := f.user("bob"); !bob.Active || bob.GoneFromDirectory || bob.FullName != "Robert Builder" {
		t.Errorf("bob back: %+v", bob)
	}

	// An admin's deactivation sticks: sync reactivates only those it deactivated.
	no := false
	f.apply(store.UpdateUser{Name: "carol", Active: &no})
	rep = f.run(Options{})
	if rep.Changes != 0 || f.user("carol").Active {
		t.Errorf("sync undid an admin's deactivation: %+v", rep)
	}

	// Every run left a report, newest first.
	reps, _ := f.st.Read().SyncReports()
	if len(reps) != 5 || reps[0].ID != rep.ID {
		t.Errorf("reports: %d, newest %d, want 5 and %d", len(reps), reps[0].ID, rep.ID)
	}
}

func TestSyncWithJITCreatesNobodyAndDeactivatesNobody(t *testing.T) {
	f := newSyncFixture(t, true, "")
	rep := f.run(Options{})
	wantCounts(t, rep, Counts{SkippedInvalidNames: 2})
	if f.user("alice") != nil {
		t.Fatal("a JIT sync created an account")
	}
	// Accounts made at first login are updated and fill synced teams.
	f.apply(store.CreateUser{User: store.User{Name: "alice", Source: store.SourceLDAP, LDAPDN: "uid=alice," + people,
		FullName: "Old Name", Active: true}, PrivateGrantID: "g-a"})
	f.apply(store.CreateUser{User: store.User{Name: "bob", Source: store.SourceLDAP, LDAPDN: "uid=bob," + people,
		FullName: "Bob Builder", Active: true}, PrivateGrantID: "g-b"})
	rep = f.run(Options{})
	wantCounts(t, rep, Counts{Updated: 1, MembershipsAdded: 2, SkippedInvalidNames: 2})
	if a := f.user("alice"); a.FullName != "Alice Liddell" {
		t.Errorf("alice not updated: %+v", a)
	}
	// bob leaves: stays active (he can no longer log in), leaves devs.
	f.deleteEntry("uid=bob," + people)
	rep = f.run(Options{})
	wantCounts(t, rep, Counts{MembershipsRemoved: 1, SkippedInvalidNames: 2})
	if b := f.user("bob"); !b.Active {
		t.Errorf("bob deactivated under JIT: %+v", b)
	}
}

func TestSyncAdminsAndOrgAdmins(t *testing.T) {
	f := newSyncFixture(t, false, "")
	c := f.config()
	c.AdminSync = GroupSync{Enabled: true, SelectGroupMembers: true, GroupDN: "cn=admins," + groups, GroupMemberAttr: "member"}
	f.setConfig(c)
	// Org admins by search: carol.
	f.apply(store.UpdateOrg{Name: "eng", AdminSync: &store.LDAPGroupSync{Enabled: true, SearchBaseDN: people,
		SearchFilter: "(uid=carol)"}})
	rep := f.run(Options{})
	wantCounts(t, rep, Counts{Created: 3, AdminsAdded: 1, OrgAdminsAdded: 1, MembershipsAdded: 3, SkippedInvalidNames: 2})
	if !f.user("alice").IsAdmin || f.user("bob").IsAdmin {
		t.Errorf("admins: alice %v bob %v", f.user("alice").IsAdmin, f.user("bob").IsAdmin)
	}
	if m, _ := f.st.Read().OrgMember("eng", "carol"); m == nil || !m.IsAdmin {
		t.Errorf("carol org admin: %+v", m)
	}
	// By hand, an LDAP user's org admin flag and synced team memberships
	// are refused while sync is on; local users are managed as usual.
	for _, c := range []store.Command{
		store.SetOrgMember{Member: store.OrgMember{Org: "eng", User: "carol", IsAdmin: false}},
		store.RemoveOrgMember{Org: "eng", User: "carol"},
		store.SetOrgMember{Member: store.OrgMember{Org: "eng", User: "bob", IsAdmin: true}},
		store.SetTeamMember{Member: store.TeamMember{Org: "eng", Team: "ops", User: "alice"}},
		store.RemoveTeamMember{Org: "eng", Team: "devs", User: "bob"},
	} {
		if _, err := f.st.Apply(f.ctx, c); !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "sync") {
			t.Errorf("%T %+v by hand: %v, want a conflict naming the sync", c, c, err)
		}
	}
	f.apply(store.SetOrgMember{Member: store.OrgMember{Org: "eng", User: "admin", IsAdmin: true}})
	f.apply(store.SetTeamMember{Member: store.TeamMember{Org: "eng", Team: "ops", User: "admin"}})

	// alice leaves the admins group: no longer a system admin; the
	// recovery admin stays one whatever the directory says.
	f.dir.Modify(t, func(c *ldap.Conn) error {
		m := ldap.NewModifyRequest("cn=admins,"+groups, nil)
		m.Replace("member", []string{"uid=carol," + people})
		return c.Modify(m)
	})
	rep = f.run(Options{})
	wantCounts(t, rep, Counts{AdminsAdded: 1, AdminsRemoved: 1, SkippedInvalidNames: 2})
	if f.user("alice").IsAdmin || !f.user("carol").IsAdmin || !f.user("admin").IsAdmin {
		t.Errorf("after the admins group changed: alice %v carol %v admin %v",
			f.user("alice").IsAdmin, f.user("carol").IsAdmin, f.user("admin").IsAdmin)
	}
	if got := f.members("eng", "ops"); !slices.Equal(got, []string{"admin", "carol"}) {
		t.Errorf("ops keeps its local member: %v", got)
	}
}

func TestSyncSafety(t *testing.T) {
	t.Run("a directory that stops mid-run removes nobody", func(t *testing.T) {
		f := newSyncFixture(t, false, "")
		f.run(Options{})
		f.deleteEntry("uid=bob," + people)
		f.syncer.afterUsers = f.dir.Stop
		rep := f.run(Options{Force: true})
		if rep.State != StateFailed || len(rep.Errors) == 0 || !strings.Contains(strings.Join(rep.Errors, " "), "team eng/devs") {
			t.Fatalf("run with the directory gone: %+v", rep)
		}
		wantCounts(t, rep, Counts{SkippedInvalidNames: 2})
		if !f.user("bob").Active || !slices.Equal(f.members("eng", "devs"), []string{"alice", "bob"}) {
			t.Errorf("a failed run deactivated or removed: bob %+v devs %v", f.user("bob"), f.members("eng", "devs"))
		}
		// With the directory back, the next run finishes the job.
		f.syncer.afterUsers = nil
		f.dir.Restart(t)
		rep = f.run(Options{Force: true})
		wantCounts(t, rep, Counts{Deactivated: 1, MembershipsRemoved: 1, SkippedInvalidNames: 2})
	})
	t.Run("a failed user search deactivates nobody", func(t *testing.T) {
		f := newSyncFixture(t, false, "")
		f.run(Options{})
		f.dir.Stop()
		rep := f.run(Options{Force: true})
		if rep.State != StateFailed || rep.Changes != 0 || !f.user("alice").Active {
			t.Errorf("run against a stopped directory: %+v", rep)
		}
	})
	t.Run("the deactivation threshold needs force", func(t *testing.T) {
		f := newSyncFixture(t, false, "")
		f.run(Options{})
		f.deleteEntry("uid=bob," + people) // 1 of 3 = 33% > 20%
		before := f.st.Revision()
		rep := f.run(Options{})
		if rep.State != StateFailed || rep.Changes != 0 || rep.Revision != before+1 ||
			!strings.Contains(strings.Join(rep.Errors, " "), "force") || !f.user("bob").Active {
			t.Fatalf("over the threshold: %+v", rep)
		}
		c := f.config()
		c.MaxDeactivationPercent = 50
		f.setConfig(c)
		rep = f.run(Options{})
		wantCounts(t, rep, Counts{Deactivated: 1, MembershipsRemoved: 1, SkippedInvalidNames: 2})
	})
}

func TestSyncRunsOneAtATime(t *testing.T) {
	f := newSyncFixture(t, false, "")
	hold := make(chan struct{})
	f.syncer.afterUsers = func() { <-hold }
	first := f.syncer.Start(Options{Trigger: "a"})
	joined := f.syncer.Start(Options{Trigger: "b"})
	team := TeamKey{"eng", "devs"}
	scoped := f.syncer.Start(Options{Team: &team})
	if joined != first || scoped != first {
		t.Error("requests during a full run did not join it")
	}
	forced := f.syncer.Start(Options{Force: true})
	if forced == first {
		t.Error("a forced request joined a run without force")
	}
	if f.syncer.Running(first.Report().ID) != first {
		t.Error("the running run is not found by its ID")
	}
	close(hold)
	a, _ := first.Wait(f.ctx)
	b, _ := forced.Wait(f.ctx)
	if a.State != StateSucceeded || b.State != StateSucceeded || !b.StartedAt.After(a.EndedAt) && !b.StartedAt.Equal(a.EndedAt) {
		t.Errorf("runs overlapped or failed: %+v %+v", a, b)
	}
	if a.Changes == 0 || b.Changes != 0 || b.ID != a.ID+1 {
		t.Errorf("second run after the first: %+v / %+v", a, b)
	}
}

func TestTeamScopedRunTouchesOnlyItsTeam(t *testing.T) {
	f := newSyncFixture(t, true, "")
	for _, u := range []string{"alice", "carol"} {
		f.apply(store.CreateUser{User: store.User{Name: u, Source: store.SourceLDAP, LDAPDN: "uid=" + u + "," + people,
			Active: true}, PrivateGrantID: "g-" + u})
	}
	team := TeamKey{"eng", "devs"}
	rep := f.run(Options{Team: &team})
	if rep.Scope != "team:eng/devs" {
		t.Errorf("scope %q", rep.Scope)
	}
	wantCounts(t, rep, Counts{MembershipsAdded: 1, SkippedInvalidNames: 2})
	if got := f.members("eng", "ops"); len(got) != 0 {
		t.Errorf("a devs run changed ops: %v", got)
	}
	if a := f.user("alice"); a.FullName != "" {
		t.Errorf("a team run updated an account: %+v", a)
	}
}

func TestSyncPagesOverLargeDirectories(t *testing.T) {
	var b strings.Builder
	for i := range 1200 {
		b.WriteString(ldaptest.Person(people, fmt.Sprintf("user%04d", i), fmt.Sprintf("User %d", i), "pw"))
	}
	f := newSyncFixture(t, false, b.String())
	rep := f.run(Options{})
	if rep.State != StateSucceeded || rep.Counts.Created != 1203 {
		t.Fatalf("1,203 users over a server limited to 1,000 per search: %+v", rep)
	}
	if rep = f.run(Options{}); rep.Changes != 0 {
		t.Errorf("re-sync of 1,203 users changed %d", rep.Changes)
	}
}
