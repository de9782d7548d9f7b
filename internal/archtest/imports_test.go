// Package archtest holds the architecture to account: which of grantd's
// packages may import which (docs/architecture.md). It has only tests.
package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/grantd/grantd/"

// allowed lists, for each package, the packages of ours it may import
// (by prefix). A package missing here may import nothing of ours.
var allowed = map[string][]string{
	"collections":         {},
	"roles":               {},
	"subjects":            {"collections"},
	"policies":            {},
	"store":               {"collections", "roles", "subjects"},
	"pki":                 {"store"},
	"authn":               {"store", "pki", "ldapsync", "subjects", "internal/randid"},
	"rights":              {"authn", "authz", "roles", "store", "subjects"},
	"authz":               {"collections", "roles", "subjects", "store", "policies"},
	"ldapsync":            {"store", "subjects", "internal/randid"},
	"adapters/engine":     {"authz", "collections", "subjects"},
	"adapters/registry":   {"internal/randid", "subjects"},
	"adapters/kubernetes": {"authz", "internal/plainjson", "roles", "subjects"},
	"adapters/authzen":    {"authz", "subjects"},
	"dataset":             {"collections", "roles", "store", "subjects"},
	// The decision log records authz's requests and decisions; it writes
	// JSON strings with the escaper the webhook and REST share.
	"decisionlog": {"authz", "internal/plainjson", "subjects"},
	// The manifest format is pure; reconcile compares it with the store.
	"manifest":           {"collections", "roles", "subjects"},
	"manifest/reconcile": {"collections", "manifest", "roles", "store", "subjects"},
	"server": {"adapters/", "authn", "authz", "decisionlog", "rights", "collections", "internal/", "ldapsync", "manifest", "manifest/reconcile", "pki", "proto/",
		"roles", "store", "subjects", "ui"},
	"ui": {},
	// cmd/grantd speaks the API as a client once: a node joining a cluster
	// (--join) asks another node's ClusterService.
	// Both it and the benchmark's in-process start-up pace the collector
	// with internal/loadgc while the state loads; grantd then keeps its
	// memory in proportion to the state with internal/memlimit.
	"cmd/grantd": {"adapters/registry", "authn", "authz", "decisionlog", "internal/loadgc", "internal/memlimit", "pki", "proto/", "server", "store", "subjects"},
	// grantctl speaks the API, names subjects in its vocabulary, and reads
	// manifests (the format only, never the store).
	"cmd/grantctl": {"proto/", "subjects", "manifest"},
	// The benchmark's transport floor serves with TLS made as grantd
	// makes its own (pki) and grantd's stream workers (server); it builds
	// grantd with the optional tags make build uses (internal/buildtags).
	"bench": {"authz", "bench/", "dataset", "internal/buildtags", "internal/loadgc", "pki", "proto/", "roles", "server", "store", "subjects"},
}

// open packages: tests, generated code and the internal helpers, which
// this test does not constrain.
func unconstrained(pkg string) bool {
	return strings.HasPrefix(pkg, "e2e") || strings.HasPrefix(pkg, "proto/") || strings.HasPrefix(pkg, "internal/") ||
		strings.HasPrefix(pkg, "bench/") || pkg == "adapters" || strings.HasPrefix(pkg, "ldapsync/ldaptest")
}

func TestImportsPointOneWay(t *testing.T) {
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", "../../...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkg := strings.TrimPrefix(p.ImportPath, module)
		if unconstrained(pkg) {
			continue
		}
		rules, ok := allowed[pkg]
		if !ok {
			t.Errorf("package %s has no import rule here; add it (and to docs/architecture.md)", pkg)
			continue
		}
		seen++
		for _, imp := range p.Imports {
			ours, isOurs := strings.CutPrefix(imp, module)
			if !isOurs {
				continue
			}
			if !permitted(ours, rules) {
				t.Errorf("%s imports %s, which the architecture does not allow", pkg, ours)
			}
		}
	}
	if seen < 10 {
		t.Fatalf("only %d packages checked", seen)
	}
}

func permitted(imp string, rules []string) bool {
	for _, r := range rules {
		if imp == r || strings.HasSuffix(r, "/") && strings.HasPrefix(imp, r) {
			return true
		}
	}
	return false
}
