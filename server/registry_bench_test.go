package server

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
)

// BenchmarkRegistryToken measures the registry token service through its
// HTTP endpoint, 8 callers at once: tokens for a push-and-pull scope on a
// team repository, with an API token as the password (what CI systems
// use) and with a local password (argon2id on every request). It reports
// tokens per second and the latency distribution.
func BenchmarkRegistryToken(b *testing.B) {
	ts := startServer(b)
	admin := ts.login(b, "admin", adminPassword)
	must := func(method, path string, body any) map[string]any {
		code, out := ts.do(b, method, path, admin, body)
		if code != 200 {
			b.Fatalf("%s %s: %d %v", method, path, code, out)
		}
		return out
	}
	must("POST", "/v1/users", map[string]any{"name": "ci", "password": "ci-password"})
	must("POST", "/v1/orgs", map[string]any{"name": "acme"})
	must("POST", "/v1/orgs/acme/teams", map[string]any{"name": "build"})
	must("PUT", "/v1/orgs/acme/teams/build/members/ci", map[string]any{"isAdmin": false})
	must("POST", "/v1/repositories", map[string]any{"namespace": "acme", "name": "app"})
	must("POST", "/v1/grants", map[string]any{"subject": "team:acme/build", "role": "repo-read-write", "object": "repository:acme/app"})
	secret := must("POST", "/v1/tokens", map[string]any{"owner": "user:ci", "name": "bench"})["secret"].(string)
	q := url.Values{"service": {"registry"}, "scope": {"repository:acme/app:pull,push"}}
	target := "https://" + ts.addr + "/auth/token?" + q.Encode()
	for _, c := range []struct{ name, password string }{{"api-token", secret}, {"password", "ci-password"}} {
		b.Run(c.name, func(b *testing.B) {
			runLoad(b, c.name, "tokens/s", 8, func() error {
				req, _ := http.NewRequest("GET", target, nil)
				req.SetBasicAuth("ci", c.password)
				resp, err := ts.http.Do(req)
				if err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					return fmt.Errorf("token: %d", resp.StatusCode)
				}
				return nil
			})
		})
	}
}
