package authz

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/grantd/grantd/subjects"
)

// Every code the policy answers is a Code constant, and every policy code
// constant is answered somewhere in the policy.
func TestCodesMatchThePolicy(t *testing.T) {
	src, err := os.ReadFile("../policies/authz.rego")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[Code]bool{}
	for _, m := range regexp.MustCompile(`"code": "([a-z_]+)"`).FindAllStringSubmatch(string(src), -1) {
		c := Code(m[1])
		seen[c] = true
		if !slices.Contains(policyCodes, c) {
			t.Errorf("the policy answers %q, which is no Code constant", c)
		}
	}
	for _, c := range policyCodes {
		if !seen[c] {
			t.Errorf("Code %q is never answered by the policy", c)
		}
		if reason(Request{Subject: subjects.MustParse("user:x"), Operation: "container.view"}, Decision{Code: c}) == "denied ("+string(c)+")" {
			t.Errorf("Code %q has no reason for people", c)
		}
	}
}

// A decision document the engine cannot read is an error (the engine then
// denies), never a panic; a well-formed one is read whole.
func TestDecisionFromDocument(t *testing.T) {
	for _, src := range []string{
		`"granted"`,
		`{}`,
		`{"code": "granted"}`,
		`{"allowed": "true", "code": "granted"}`,
	} {
		if d, err := decisionFrom(ast.MustParseTerm(src)); err == nil {
			t.Errorf("%s: read as %+v, want an error", src, d)
		}
	}
	d, err := decisionFrom(ast.MustParseTerm(`{"allowed": false, "code": "missing_options", "collection": "/a", "options": ["privileged"], "secrets": ["/b"]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Decision{Code: CodeMissingOptions, Collection: "/a", Options: []string{"privileged"}, Secrets: []string{"/b"}}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("read %+v, want %+v", d, want)
	}
}
