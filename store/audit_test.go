package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func audited(actor string, c Command) Audited {
	return Audited{Actor: actor, ClientAddr: "192.0.2.7:5000", Time: t0, Command: c}
}

func TestAuditRecordsChangesAtomically(t *testing.T) {
	s := newStore(t)
	withPassword := user("alice")
	withPassword.User.PasswordHash = "$argon2id$secret-hash"
	mustApply(t, s, audited("user:admin", withPassword))
	name := "Alice A."
	mustApply(t, s, audited("user:admin", UpdateUser{Name: "alice", FullName: &name, PasswordHash: &withPassword.User.PasswordHash}))
	// A refused command leaves neither the change nor an event.
	wantErr(t, s, audited("user:admin", DeleteOrg{Name: "missing"}), ErrNotFound)

	events, err := s.Read().AuditEvents("", "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 {
		t.Fatalf("events = %d, want 2", len(events))
	}
	upd, create := events[0], events[1] // newest first
	if create.Action != "user.create" || create.Object != "user:alice" || create.Actor != "user:admin" ||
		create.ClientAddr != "192.0.2.7:5000" || !create.Time.Equal(t0) || create.ID != 1 || upd.ID != 2 {
		t.Errorf("create event = %+v", create)
	}
	if upd.Action != "user.update" || len(upd.Before) == 0 || len(upd.After) == 0 {
		t.Errorf("update event = %+v", upd)
	}
	var before User
	if err := json.Unmarshal(upd.Before, &before); err != nil || before.Name != "alice" || before.FullName != "" {
		t.Errorf("before = %s (%v)", upd.Before, err)
	}
	for _, e := range events {
		if strings.Contains(string(e.Before)+string(e.After), "secret-hash") {
			t.Errorf("event %d carries the password hash: %s %s", e.ID, e.Before, e.After)
		}
	}
	if got, _ := s.Read().AuditEvents("user:nobody", "", 0, 0); len(got) != 0 {
		t.Errorf("actor filter kept %d events", len(got))
	}
	if got, _ := s.Read().AuditEvents("", "user:al", 0, 0); len(got) != 2 {
		t.Errorf("object prefix filter kept %d events", len(got))
	}
	if got, _ := s.Read().AuditEvents("", "", 2, 0); len(got) != 1 || got[0].ID != 1 {
		t.Errorf("events before 2 = %+v", got)
	}
}

func TestAuditRetentionDropsOldest(t *testing.T) {
	s := newStore(t)
	set := DefaultSettings()
	set.AuditRetention = 100
	mustApply(t, s, UpdateSettings{Settings: set})
	for i := range 300 { // more than 255, so IDs cross a varint byte boundary
		mustApply(t, s, audited("user:admin", CreateOrg{Org: Org{Name: fmt.Sprint("org", i)}}))
	}
	events, _ := s.Read().AuditEvents("", "", 0, 0)
	if len(events) != 100 {
		t.Fatalf("kept %d events, want 100", len(events))
	}
	for i, e := range events {
		if want := uint64(300 - i); e.ID != want {
			t.Fatalf("event %d has ID %d, want %d (newest first, consecutive)", i, e.ID, want)
		}
	}
	for _, bad := range []int{-1, 99, 10_000_001} {
		set.AuditRetention = bad
		if _, err := s.Apply(context.Background(), UpdateSettings{Settings: set}); err == nil {
			t.Errorf("retention %d accepted", bad)
		}
	}
}

func TestAuditedRejectsNesting(t *testing.T) {
	s := newStore(t)
	wantErr(t, s, audited("x", audited("y", CreateOrg{Org: Org{Name: "o"}})), ErrInvalid)
	enc, err := encodeCommand(audited("user:admin", CreateOrg{Org: Org{Name: "o"}}))
	if err != nil {
		t.Fatal(err)
	}
	dec, err := decodeCommand(enc)
	if err != nil {
		t.Fatal(err)
	}
	if a := dec.(*Audited); a.Actor != "user:admin" || a.Command.(*CreateOrg).Org.Name != "o" {
		t.Fatalf("round trip = %+v", a)
	}
}

func TestUpdateTeamAndServiceAccount(t *testing.T) {
	s := newStore(t)
	mustApply(t, s, CreateOrg{Org: Org{Name: "acme"}}, CreateTeam{Team: Team{Org: "acme", Name: "web"}},
		CreateServiceAccount{Account: ServiceAccount{Name: "proxy", Active: true}})
	d := "front-end people"
	mustApply(t, s, UpdateTeam{Org: "acme", Name: "web", Description: &d})
	if tm, _ := s.Read().Team("acme", "web"); tm.Description != d {
		t.Errorf("team description = %q", tm.Description)
	}
	wantErr(t, s, UpdateTeam{Org: "acme", Name: "nope", Description: &d}, ErrNotFound)
	groups := []string{"oidc:web", "devs", "oidc:web"}
	mustApply(t, s, UpdateTeam{Org: "acme", Name: "web", KubernetesGroups: &groups})
	if tm, _ := s.Read().Team("acme", "web"); !slices.Equal(tm.KubernetesGroups, []string{"devs", "oidc:web"}) || tm.Description != d {
		t.Errorf("team = %+v", tm)
	}
	if ts, _ := s.Read().TeamsOfKubernetesGroup("devs"); len(ts) != 1 || ts[0].Name != "web" {
		t.Errorf("teams of devs = %v", ts)
	}
	mustApply(t, s, CreateTeam{Team: Team{Org: "acme", Name: "ops", KubernetesGroups: []string{"oidc:ops", "devs"}}},
		CreateTeam{Team: Team{Org: "acme", Name: "none"}})
	if gs, _ := s.Read().KubernetesGroups(); !slices.Equal(gs, []string{"devs", "oidc:ops", "oidc:web"}) {
		t.Errorf("every mapped group = %v", gs)
	}
	for _, bad := range [][]string{{"system:authenticated"}, {""}, {"bad\ngroup"}, {strings.Repeat("g", 257)}, slices.Repeat([]string{"g"}, MaxKubernetesGroups+1)} {
		wantErr(t, s, UpdateTeam{Org: "acme", Name: "web", KubernetesGroups: &bad}, ErrInvalid)
	}
	none := []string{}
	mustApply(t, s, UpdateTeam{Org: "acme", Name: "web", KubernetesGroups: &none})
	if ts, _ := s.Read().TeamsOfKubernetesGroup("devs"); len(ts) != 1 || ts[0].Name != "ops" {
		t.Errorf("cleared groups still map: %v", ts)
	}

	caps, off := []string{CapabilityAuthorize}, false
	mustApply(t, s, UpdateServiceAccount{Name: "proxy", Capabilities: &caps, Active: &off})
	if a, _ := s.Read().ServiceAccount("proxy"); a.Active || len(a.Capabilities) != 1 {
		t.Errorf("service account = %+v", a)
	}
	bad := []string{"root"}
	wantErr(t, s, UpdateServiceAccount{Name: "proxy", Capabilities: &bad}, ErrInvalid)
	wantErr(t, s, UpdateServiceAccount{Name: "ghost", Active: &off}, ErrNotFound)
}

func TestSessionTouchRenewsAndOrdersEviction(t *testing.T) {
	s := newStore(t)
	mustApply(t, s, user("bob"))
	for i := range 3 {
		mustApply(t, s, CreateSession{Session: Session{ID: fmt.Sprint("s", i), User: "bob",
			CreatedAt: t0.Add(time.Duration(i) * time.Minute), ExpiresAt: t0.Add(time.Hour)}})
	}
	// s0 is the oldest but was used last: s1 is now the least recently used.
	mustApply(t, s, TouchSession{ID: "s0", UsedAt: t0.Add(10 * time.Minute), ExpiresAt: t0.Add(2 * time.Hour)})
	if got, _ := s.Read().Session("s0"); !got.ExpiresAt.Equal(t0.Add(2*time.Hour)) || !got.LastUsedAt.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("touched session = %+v", got)
	}
	// A touch never shortens a session.
	mustApply(t, s, TouchSession{ID: "s0", UsedAt: t0.Add(11 * time.Minute), ExpiresAt: t0.Add(time.Minute)})
	if got, _ := s.Read().Session("s0"); !got.ExpiresAt.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("touch shortened the session to %v", got.ExpiresAt)
	}
	mustApply(t, s, CreateSession{Session: Session{ID: "s3", User: "bob", CreatedAt: t0.Add(12 * time.Minute),
		ExpiresAt: t0.Add(time.Hour)}, PerUserLimit: 3})
	if got, _ := s.Read().Session("s1"); got != nil {
		t.Error("the least recently used session was kept")
	}
	if got, _ := s.Read().Session("s0"); got == nil {
		t.Error("a recently used session was dropped")
	}
	wantErr(t, s, TouchSession{ID: "gone", UsedAt: t0}, ErrNotFound)
}

func TestLDAPConfigIsStoredAndNeverAudited(t *testing.T) {
	s := newStore(t)
	doc := []byte(`{"enabled":true,"servers":[{"url":"ldap://x","readerPassword":"reader-secret"}]}`)
	mustApply(t, s, audited("user:admin", UpdateLDAPConfig{Config: doc}))
	got, err := s.Read().LDAPConfig()
	if err != nil || got == nil || string(got.Config) != string(doc) {
		t.Fatalf("stored config = %+v %v", got, err)
	}
	events, _ := s.Read().AuditEvents("", "ldap", 0, 0)
	if len(events) != 1 || events[0].Action != "ldap.config.update" {
		t.Fatalf("events = %+v", events)
	}
	if strings.Contains(string(events[0].After)+string(events[0].Before), "reader-secret") {
		t.Error("the audit log carries the reader password")
	}
	wantErr(t, s, UpdateLDAPConfig{Config: []byte(`[1]`)}, ErrInvalid)
	wantErr(t, s, UpdateLDAPConfig{Config: []byte(`{"broken"`)}, ErrInvalid)
}

// A long field is kept in the audit log as a bounded excerpt (issue 17,
// item 4): the object keeps its full value, the event a prefix.
func TestAuditKeepsExcerptsOfLongFields(t *testing.T) {
	s := newStore(t)
	mustApply(t, s, audited("user:admin", user("alice")))
	long := strings.Repeat("é", 5000) // two bytes each: the cut must not split one
	mustApply(t, s, audited("user:alice", UpdateUser{Name: "alice", FullName: &long}))
	u, err := s.Read().User("alice")
	if err != nil || u.FullName != long {
		t.Fatalf("the user lost their full name: %v", err)
	}
	events, err := s.Read().AuditEvents("user:alice", "", 0, 0)
	if err != nil || len(events) != 1 {
		t.Fatalf("events: %v %v", events, err)
	}
	var after map[string]any
	if err := json.Unmarshal(events[0].After, &after); err != nil {
		t.Fatal(err)
	}
	got, _ := after["fullName"].(string)
	if len(events[0].After) > 2*AuditExcerpt+200 || !strings.HasPrefix(got, strings.Repeat("é", AuditExcerpt/2)) ||
		!strings.HasSuffix(got, "…[9744 more bytes]") {
		t.Errorf("audit after: %d bytes, fullName %q", len(events[0].After), clipForTest(got))
	}
}

func clipForTest(s string) string {
	if len(s) > 80 {
		return s[:40] + "…" + s[len(s)-40:]
	}
	return s
}

// Every command kind is registered, makes a command of its own kind, and
// an audited change is described by an action of its own.
func TestEveryCommandIsRegisteredAndDescribed(t *testing.T) {
	unaudited := map[commandKind]bool{kindBootstrap: true, kindCreateSession: true, kindDeleteSession: true,
		kindTouchSession: true, kindAudited: true, kindReadMark: true}
	for k := kindBatch; k < kindEnd; k++ {
		ctor, ok := commands[k]
		if !ok {
			t.Errorf("command kind %d has no constructor", k)
			continue
		}
		c := ctor()
		if c.kind() != k {
			t.Errorf("kind %d makes a %T of kind %d", k, c, c.kind())
		}
		action, _, _ := plainCommand(c).describe()
		if generic := strings.HasPrefix(action, "command."); generic != unaudited[k] {
			t.Errorf("%T is described as %q", c, action)
		}
	}
	if len(commands) != int(kindEnd-kindBatch) {
		t.Errorf("%d constructors for %d kinds", len(commands), kindEnd-kindBatch)
	}
}
