package policies

import (
	"context"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestRegoTests runs the *_test.rego files with OPA's own test runner, as
// `opa test policies/` would.
func TestRegoTests(t *testing.T) {
	mods := map[string]*ast.Module{}
	for name, src := range Modules() {
		mods[name] = ast.MustParseModuleWithOpts(src, ast.ParserOptions{RegoVersion: ast.RegoV1})
	}
	for name, src := range DerivedModules() {
		mods[name] = ast.MustParseModuleWithOpts(src, ast.ParserOptions{RegoVersion: ast.RegoV1})
	}
	for name, src := range TestModules() {
		mods[name] = ast.MustParseModuleWithOpts(src, ast.ParserOptions{RegoVersion: ast.RegoV1})
	}
	ch, err := tester.NewRunner().SetModules(mods).RunTests(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for r := range ch {
		n++
		if r.Fail || r.Error != nil {
			t.Errorf("%s.%s failed: %v", r.Package, r.Name, r.Error)
		}
	}
	if n < 8 {
		t.Fatalf("only %d Rego tests ran", n)
	}
}

func TestModulesSplit(t *testing.T) {
	for name := range Modules() {
		if strings.HasSuffix(name, "_test.rego") {
			t.Errorf("%s is a test", name)
		}
	}
	if _, ok := Modules()["authz.rego"]; !ok {
		t.Fatal("authz.rego not embedded")
	}
}
