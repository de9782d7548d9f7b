package engine

import (
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// engineAPISwagger is the Engine API definition shipped in the Docker
// module this project depends on.
func engineAPISwagger(t *testing.T) string {
	t.Helper()
	out, err := osexec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/docker/docker").Output()
	if err != nil {
		t.Fatalf("locating the Docker module: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "api", "swagger.yaml")
}

// TestRouteTableCoversSwagger fails when any method and path of the
// Engine API is neither mapped to an operation nor explicitly restricted
// (authenticated-only or admin-only) by the route table.
func TestRouteTableCoversSwagger(t *testing.T) {
	raw, err := os.ReadFile(engineAPISwagger(t))
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Info     struct{ Version string }
		BasePath string `json:"basePath"`
		Paths    map[string]map[string]any
	}
	if err := yaml.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	if len(spec.Paths) < 90 {
		t.Fatalf("swagger has only %d paths; not the Engine API?", len(spec.Paths))
	}
	n := 0
	for p, methods := range spec.Paths {
		for m := range methods {
			method := strings.ToUpper(m)
			switch method {
			case "GET", "POST", "PUT", "DELETE", "HEAD", "PATCH":
			default:
				continue // "parameters" and the like
			}
			n++
			// Fill path parameters with values such requests really carry.
			name := "registry.example.com:5000/team/app:1.0" // images, plugins
			if strings.HasPrefix(p, "/volumes/") {
				name = "data-1"
			}
			concrete := strings.NewReplacer("{id}", "3f4e8a9c2b1d", "{name}", name).Replace(p)
			for _, prefix := range []string{"", "/v1.51", "/v1.24"} {
				rt, vars, ok := match(method, prefix+concrete)
				if !ok {
					t.Errorf("%s %s%s: no route", method, prefix, p)
					continue
				}
				if rt.access == decide && rt.op == "" {
					t.Errorf("%s %s: route %s has neither an operation nor a restriction", method, p, rt.pattern)
				}
				if strings.Contains(p, "{name}") && vars["name"] != name {
					t.Errorf("%s %s: name parsed as %q", method, p, vars["name"])
				}
			}
		}
	}
	t.Logf("Engine API %s: %d method+path pairs, all routed", spec.Info.Version, n)
}

func TestRouteMatching(t *testing.T) {
	cases := []struct {
		method, path, pattern string
		vars                  map[string]string
	}{
		{"GET", "/v1.47/containers/json", "/containers/json", nil},
		{"POST", "/containers/create", "/containers/create", nil},
		{"GET", "/containers/abc/json", "/containers/{id}/json", map[string]string{"id": "abc"}},
		{"DELETE", "/images/library/ubuntu:24.04", "/images/{name*}", map[string]string{"name": "library/ubuntu:24.04"}},
		{"GET", "/images/a/b/c/json", "/images/{name*}/json", map[string]string{"name": "a/b/c"}},
		{"GET", "/images/json", "/images/json", nil},
		{"POST", "/plugins/vieux/sshfs:latest/enable", "/plugins/{name*}/enable", map[string]string{"name": "vieux/sshfs:latest"}},
		{"HEAD", "/_ping", "/_ping", nil},
		{"POST", "/grpc", "/grpc", nil},
	}
	for _, c := range cases {
		rt, vars, ok := match(c.method, c.path)
		if !ok || rt.pattern != c.pattern {
			t.Errorf("%s %s: matched %v (ok %v), want %s", c.method, c.path, rt, ok, c.pattern)
			continue
		}
		for k, v := range c.vars {
			if vars[k] != v {
				t.Errorf("%s %s: %s = %q, want %q", c.method, c.path, k, vars[k], v)
			}
		}
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/containers/abc/../../swarm/unlockkey"},
		{"GET", "//containers/json"},
		{"GET", "/containers/abc/json/"},
		{"GET", "/nope"},
		{"PATCH", "/containers/abc/json"},
		{"GET", "/"},
		{"GET", ""},
		{"GET", "/v1.47"},
	} {
		if rt, _, ok := match(c.method, c.path); ok {
			t.Errorf("%s %q matched %s, want no route", c.method, c.path, rt.pattern)
		}
	}
}
