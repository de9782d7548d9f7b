package authz

import (
	"os"
	"regexp"
	"slices"
	"testing"

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
