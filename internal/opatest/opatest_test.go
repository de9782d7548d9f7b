package opatest

import (
	"os"
	"strings"
	"testing"
)

// TestREADMENamesTheRelease checks that the README tells operators to
// install the OPA release grantd is built with, so that a bump in go.mod
// cannot leave the README naming an older one.
func TestREADMENamesTheRelease(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want := Module + "@" + Version(t)
	if !strings.Contains(string(readme), want) {
		t.Fatalf("README.md does not name %s, the release in go.mod", want)
	}
	if n := strings.Count(string(readme), Module+"@"); n != 1 {
		t.Errorf("README.md names an OPA release %d times, want once", n)
	}
}
