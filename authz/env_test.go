package authz

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
)

// env is a real store whose writes feed a real engine.
type env struct {
	t     *testing.T
	st    *store.Store
	e     *Engine
	seq   int
	clock time.Time
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newEnv(t testing.TB) *env {
	t.Helper()
	v := openEnv(t, t.TempDir())
	t.Cleanup(func() { v.st.Close() })
	return v
}

// openEnv opens an env in dir that lives until closed.
func openEnv(t testing.TB, dir string) *env {
	t.Helper()
	e, err := New(quietLog())
	if err != nil {
		t.Fatal(err)
	}
	// As the server runs it: every test also checks that the decision
	// cache never answers differently from the policy.
	e.SetDecisionCache(DefaultDecisionCache)
	cfg := store.DefaultConfig(dir)
	cfg.Logger = quietLog()
	cfg.Observe, cfg.Preview = e.Observe, e.Preview
	st, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	ev := &env{st: st, e: e, clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if tt, ok := t.(*testing.T); ok {
		ev.t = tt
	}
	ev.must(store.Bootstrap{Admin: store.User{Name: "admin"}, SharedGrantID: "g-shared", AdminGrantID: "g-admin"})
	return ev
}

func (v *env) apply(cmds ...store.Command) error {
	for _, c := range cmds {
		if _, err := v.st.Apply(context.Background(), c); err != nil {
			return fmt.Errorf("%T: %w", c, err)
		}
	}
	return nil
}

func (v *env) must(cmds ...store.Command) {
	if err := v.apply(cmds...); err != nil {
		panic(err)
	}
}

func (v *env) id() string { v.seq++; return fmt.Sprintf("g%05d", v.seq) }

func (v *env) user(name string) store.Command {
	return store.CreateUser{User: store.User{Name: name, Active: true}, PrivateGrantID: v.id()}
}

func (v *env) grant(subject, role, object, scope string) store.Command {
	return store.CreateGrant{Grant: store.Grant{ID: v.id(), Subject: subjects.MustParse(subject), Role: role,
		Object: subjects.MustParseObject(object), Scope: scope}}
}

func (v *env) role(id string, perms ...roles.Permission) store.Command {
	return store.CreateRole{Role: store.Role{Role: roles.Role{ID: id, Permissions: perms}}}
}

func (v *env) decide(subject, op, collection string, options ...string) Decision {
	return v.e.Decide(context.Background(), Request{Subject: subjects.MustParse(subject), Operation: op, Collection: collection, Options: options})
}
