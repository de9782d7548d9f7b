package ldapsync

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/ldapsync/ldaptest"
	"github.com/grantd/grantd/store"
)

// benchUsers and benchGroups are the directory of targets.md; a smaller
// directory with GRANTD_BENCH_LDAP_USERS (groups scale with it).
func benchDirectorySize() (users, nGroups, teams int) {
	users = 20000
	if n, err := strconv.Atoi(os.Getenv("GRANTD_BENCH_LDAP_USERS")); err == nil && n > 0 {
		users = n
	}
	nGroups = max(users/10, 10)
	return users, nGroups, max(nGroups/4, 5)
}

// benchLDIF is a directory of users u00000..., each in two groups, so a
// group has about 2 × users / groups members.
func benchLDIF(users, nGroups int) string {
	var b strings.Builder
	b.WriteString(ldaptest.OU("dc=example,dc=com", "people") + ldaptest.OU("dc=example,dc=com", "groups"))
	members := make([][]string, nGroups)
	for u := range users {
		name := fmt.Sprintf("u%05d", u)
		b.WriteString(ldaptest.Person(people, name, "User "+name, "pw-"+name))
		dn := "uid=" + name + "," + people
		members[u%nGroups] = append(members[u%nGroups], dn)
		if g := (u * 7) % nGroups; g != u%nGroups {
			members[g] = append(members[g], dn)
		}
	}
	for g := range nGroups {
		b.WriteString(ldaptest.Group(groups, fmt.Sprintf("g%04d", g), "member", members[g]...))
	}
	return b.String()
}

// benchStore is a store with the decision engine following it, as in the
// server, so that a sync's write includes recompiling the policy data.
func benchStore(b *testing.B) *store.Store {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	engine, err := authz.New(log)
	if err != nil {
		b.Fatal(err)
	}
	cfg := store.DefaultConfig(b.TempDir())
	cfg.Logger, cfg.Observe = log, engine.Observe
	st, err := store.Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	if err := st.WaitReady(context.Background()); err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkSyncLargeDirectory loads 20,000 users and 2,000 groups into a
// local slapd, syncs them with 500 teams following a group each (JIT off:
// every user is created), then re-syncs the unchanged directory. It
// reports both durations and how many changes the re-sync wrote (target:
// full sync ≤ 60 s, re-sync 0 changes).
func BenchmarkSyncLargeDirectory(b *testing.B) {
	users, nGroups, teams := benchDirectorySize()
	loadStart := time.Now()
	d := ldaptest.Start(b, ldaptest.Options{LDIF: benchLDIF(users, nGroups)})
	load := time.Since(loadStart)
	st := benchStore(b)
	ctx := context.Background()
	syncer := NewSyncer(st, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now, nil)
	apply := func(c store.Command) {
		if _, err := st.Apply(ctx, c); err != nil {
			b.Fatalf("%T: %v", c, err)
		}
	}
	apply(store.Bootstrap{Admin: store.User{Name: "admin", PasswordHash: "x", Source: store.SourceLocal},
		SharedGrantID: "g-shared", AdminGrantID: "g-admin"})
	c := config(d)
	c.JITUserProvisioning = false
	doc, err := json.Marshal(c)
	if err != nil {
		b.Fatal(err)
	}
	apply(store.UpdateLDAPConfig{Config: doc})
	for t := range teams {
		org := fmt.Sprintf("org%02d", t/50)
		if t%50 == 0 {
			apply(store.CreateOrg{Org: store.Org{Name: org}})
		}
		team := fmt.Sprintf("team%03d", t)
		apply(store.CreateTeam{Team: store.Team{Org: org, Name: team, LDAPSync: &store.LDAPGroupSync{Enabled: true,
			GroupDN: fmt.Sprintf("cn=g%04d,%s", t, groups), GroupMemberAttr: "member"}}})
	}
	// run syncs and returns the report and the time from asking until the
	// write is applied.
	run := func() (Report, time.Duration) {
		start := time.Now()
		rep, err := syncer.Start(Options{}).Wait(ctx)
		if err != nil || rep.State != StateSucceeded {
			b.Fatalf("sync: %+v %v", rep, err)
		}
		return rep, time.Since(start)
	}
	b.ResetTimer()
	full, fullTime := run()
	var resync []time.Duration
	var resyncChanges int
	for b.Loop() {
		rep, took := run()
		resync = append(resync, took)
		resyncChanges += rep.Changes
	}
	b.StopTimer()
	if full.Counts.Created != users {
		b.Fatalf("created %d of %d users", full.Counts.Created, users)
	}
	slices.Sort(resync)
	b.ReportMetric(fullTime.Seconds(), "full-sync-s")
	b.ReportMetric(resync[len(resync)/2].Seconds(), "resync-s")
	b.ReportMetric(float64(resyncChanges), "resync-changes")
	b.Logf("directory of %d users and %d groups loaded into slapd in %v; %d synced teams\n"+
		"full sync: %v, %d changes (%d users created, %d memberships added)\n"+
		"re-sync of the unchanged directory: median %v over %d runs, %d changes written (target 0)",
		users, nGroups, load.Round(time.Millisecond), teams, fullTime.Round(time.Millisecond), full.Changes,
		full.Counts.Created, full.Counts.MembershipsAdded, resync[len(resync)/2].Round(time.Millisecond), len(resync), resyncChanges)
}

// BenchmarkLDAPLogin measures logins through the directory (search as the
// reader, then bind as the user) against a local slapd holding 20,000
// users, and reports their latency distribution (target p99 ≤ 50 ms).
func BenchmarkLDAPLogin(b *testing.B) {
	users, nGroups, _ := benchDirectorySize()
	d := ldaptest.Start(b, ldaptest.Options{LDIF: benchLDIF(users, nGroups)})
	c := config(d)
	ctx := context.Background()
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("u%05d", (i*7919)%users)
		start := time.Now()
		got, err := c.Authenticate(ctx, name, "pw-"+name)
		lat = append(lat, time.Since(start))
		if err != nil || got.Username != name {
			b.Fatalf("login %s: %v", name, err)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(p(0.5), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
	b.Logf("%d logins against %d users: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms (target p99 ≤ 50 ms)",
		len(lat), users, p(0.5), p(0.9), p(0.99))
}
