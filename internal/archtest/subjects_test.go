package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The string forms of subjects and objects belong to the subjects
// package: everywhere else builds them with its constructors and reads
// them with its parsers. A string literal that starts a subject or object
// ("user:", "team:", "collection:" …) in production code outside subjects/
// is a hand-built one. Tests, generated code and the benchmark's peers
// (which speak their own vocabularies on the wire) are exempt.
func TestNoHandBuiltSubjectStrings(t *testing.T) {
	prefixes := []string{"user:", "team:", "org:", "serviceaccount:", "collection:", "repository:", "namespace:"}
	checked := 0
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("../..", path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			switch {
			case rel != "." && strings.HasPrefix(rel, "."), rel == "subjects", rel == "bench", rel == "e2e", rel == "proto",
				rel == "internal", rel == "node_modules", rel == "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") || strings.HasSuffix(rel, ".pb.go") ||
			strings.HasSuffix(rel, ".pb.gw.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil || strings.Contains(s, "<") { // help text: "user:<name>"
				return true
			}
			for _, p := range prefixes {
				if strings.HasPrefix(s, p) {
					t.Errorf("%s: %q spells a subject or object by hand; use the subjects package", rel, s)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("only %d files checked", checked)
	}
}
