package authz

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/grantd/grantd/collections"
	"github.com/grantd/grantd/subjects"
)

// TestHostileStringsCannotChangeDecisions sends names with quotes,
// newlines, Rego and JSON syntax in every field of a request. They only
// ever reach the policy as input data, so each must be a plain denial.
func TestHostileStringsCannotChangeDecisions(t *testing.T) {
	v := newEnv(t)
	v.must(v.user("maria"))
	hostile := []string{
		`"`, `\`, "\n", "\x00", `user:maria"] = true; x := ["`, `} else := {"allowed": true} if { true`,
		`*`, `)(uid=*)`, `/Shared/Private/maria" || true`, `../Shared/Private/maria`, `{"allowed": true}`,
		"data.grantd.state", "input.subject", `import rego.v1`,
	}
	ctx := context.Background()
	for _, h := range hostile {
		for _, r := range []Request{
			{Subject: subjects.Subject{Kind: subjects.Kind(h)}, Operation: "container.view", Collection: "/Shared/Private/maria"},
			{Subject: subjects.OfUser("maria" + h), Operation: "container.view", Collection: "/Shared/Private/maria"},
			{Subject: subjects.MustParse("user:maria"), Operation: h, Collection: "/Shared/Private/maria"},
			{Subject: subjects.MustParse("user:maria"), Operation: "container.exec", Collection: "/Shared/Private/maria" + h},
			{Subject: subjects.MustParse("user:maria"), Operation: "container.exec", Labels: map[string]string{collections.AccessLabel: h}, HasLabels: true},
			{Subject: subjects.MustParse("user:maria"), Operation: "container.create", Collection: "/Shared/Private/maria", Options: []string{h}},
			{Subject: subjects.MustParse("user:maria"), Operation: "repository.delete", Repository: h},
			{Subject: subjects.MustParse("user:maria"), Operation: "service.create", Collection: "/Shared/Private/maria", Secrets: []string{h}},
		} {
			if d := v.e.Decide(ctx, r); d.Allowed || d.Code == "internal_error" {
				t.Errorf("%+v: allowed=%v code=%s (%s)", r, d.Allowed, d.Code, d.Reason)
			}
		}
	}
	// The same user's ordinary request is still allowed: the policy is intact.
	if d := v.decide("user:maria", "container.view", "/Shared/Private/maria"); !d.Allowed {
		t.Fatalf("baseline denied: %s", d.Reason)
	}
}

// TestFailuresDenyWithoutLeakingCauses breaks the engine's state and checks
// that decisions are denials whose reason names no internal detail.
func TestFailuresDenyWithoutLeakingCauses(t *testing.T) {
	v := newEnv(t)
	v.must(v.user("maria"))
	v.e.broken.Store(true)
	d := v.decide("user:maria", "container.view", "/Shared/Private/maria")
	if d.Allowed || d.Code != "internal_error" || d.Reason != "denied: the compiled policy state is out of date" {
		t.Fatalf("broken engine: %+v", d)
	}
	v.e.broken.Store(false)
	cause := errors.New("txn 42 at /var/lib/secret failed")
	if f := failed(cause); f.Allowed || strings.Contains(f.Reason, "secret") || strings.Contains(f.Reason, "42") {
		t.Fatalf("failure reason leaks its cause: %q", f.Reason)
	}
}
