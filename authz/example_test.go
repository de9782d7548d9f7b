package authz_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
)

// open starts a store whose every write the engine follows, bootstrapped,
// with maria in team acme/mobile, which holds Restricted Control on
// /production/mobile. It returns the engine, the store and a clean-up.
func open() (*authz.Engine, *store.Store, func()) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	engine, err := authz.New(log)
	if err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "authz-example")
	if err != nil {
		panic(err)
	}
	cfg := store.DefaultConfig(dir)
	cfg.Logger = log
	cfg.Observe = engine.Observe // the compiled state follows every write
	st, err := store.Open(cfg)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := st.WaitReady(ctx); err != nil {
		panic(err)
	}
	for _, c := range []store.Command{
		store.Bootstrap{Admin: store.User{Name: "admin"}, SharedGrantID: "g1", AdminGrantID: "g2"},
		store.CreateUser{User: store.User{Name: "maria", Active: true}, PrivateGrantID: "g3"},
		store.CreateOrg{Org: store.Org{Name: "acme"}},
		store.CreateTeam{Team: store.Team{Org: "acme", Name: "mobile"}},
		store.SetTeamMember{Member: store.TeamMember{Org: "acme", Team: "mobile", User: "maria"}},
		store.CreateCollection{Collection: store.Collection{Path: "/production"}},
		store.CreateCollection{Collection: store.Collection{Path: "/production/mobile"}},
		store.CreateGrant{Grant: store.Grant{ID: "g4", Subject: subjects.OfTeam("acme", "mobile"), Role: "restrictedcontrol",
			Object: subjects.CollectionOf("/production/mobile"), Scope: store.ScopeSubtree}},
	} {
		if _, err := st.Apply(ctx, c); err != nil {
			panic(err)
		}
	}
	return engine, st, func() { _ = st.Close(); _ = os.RemoveAll(dir) }
}

// Decide answers whether a subject may perform an operation on a
// resource, with a reason; bad input is a denial, never an error.
func ExampleEngine_Decide() {
	engine, _, done := open()
	defer done()
	ctx := context.Background()
	for _, r := range []authz.Request{
		{Subject: subjects.OfUser("maria"), Operation: "service.create", Collection: "/production/mobile"},
		{Subject: subjects.OfUser("maria"), Operation: "container.exec", Collection: "/production/mobile"},
		{Subject: subjects.OfUser("maria"), Operation: "container.create", Collection: "/production/mobile", Options: []string{"privileged"}},
		{Subject: subjects.OfUser("maria"), Operation: "container.view", Labels: map[string]string{"com.docker.ucp.access.label": "/production/mobile"}, HasLabels: true},
		{Subject: subjects.OfUser("nobody"), Operation: "container.view", Collection: "/production"},
	} {
		d := engine.Decide(ctx, r)
		fmt.Printf("%v %s: %s\n", d.Allowed, d.Code, d.Reason)
	}
	// Output:
	// true granted: user:maria holds service.create on /production/mobile
	// false missing_operation: no grant gives user:maria container.exec on /production/mobile
	// false missing_options: user:maria holds container.create on /production/mobile but not with privileged
	// true granted: user:maria holds container.view on /production/mobile
	// false unknown_subject: subject "user:nobody" is not a known user, service account or anonymous
}

// Explain names the grants behind an answer and the path from the
// subject to each.
func ExampleEngine_Explain() {
	engine, _, done := open()
	defer done()
	x := engine.Explain(context.Background(),
		authz.Request{Subject: subjects.OfUser("maria"), Operation: "container.logs", Collection: "/production/mobile"})
	fmt.Println(x.Allowed, x.Reason)
	for _, g := range x.Grants {
		fmt.Printf("%s: %s on %s (%s)\n", g.SubjectPath, g.Role, g.Object, g.Scope)
	}
	// Output:
	// true user:maria holds container.logs on /production/mobile
	// user:maria → team:acme/mobile: restrictedcontrol on collection:/production/mobile (subtree)
}

// WhoCan lists every principal who can perform an operation on an object,
// with the grants that give it.
func ExampleWhoCan() {
	_, st, done := open()
	defer done()
	entries, err := authz.WhoCan(st.Read(), subjects.CollectionOf("/production/mobile"), "container.logs", nil)
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		fmt.Printf("%s via %q, %d grant(s)\n", e.Subject, e.Via, len(e.Grants))
	}
	// Output:
	// user:admin via "admin", 0 grant(s)
	// user:maria via "", 1 grant(s)
}
