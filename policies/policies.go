package policies

import (
	"embed"
	"io/fs"
	"strings"
)

//go:embed *.rego
var files embed.FS

//go:embed derived/*.rego
var derivedFiles embed.FS

// Query is the rule grantd evaluates for a decision.
const Query = "data.grantd.authz.decision"

// Modules returns the policy's Rego modules by file name, tests excluded.
func Modules() map[string]string {
	return modules(func(name string) bool { return !strings.HasSuffix(name, "_test.rego") })
}

// DerivedModules returns the modules that define the compiled state's
// derived tables in Rego, by path ("derived/…"). grantd's storage computes
// those tables itself; an exported bundle carries these modules in their
// place, for stock OPA.
func DerivedModules() map[string]string {
	out := map[string]string{}
	entries, _ := fs.ReadDir(derivedFiles, "derived")
	for _, e := range entries {
		b, _ := derivedFiles.ReadFile("derived/" + e.Name())
		out["derived/"+e.Name()] = string(b)
	}
	return out
}

// TestModules returns the Rego test modules.
func TestModules() map[string]string {
	return modules(func(name string) bool { return strings.HasSuffix(name, "_test.rego") })
}

func modules(keep func(string) bool) map[string]string {
	out := map[string]string{}
	entries, _ := fs.ReadDir(files, ".")
	for _, e := range entries {
		if keep(e.Name()) {
			b, _ := files.ReadFile(e.Name())
			out[e.Name()] = string(b)
		}
	}
	return out
}
