package engine

import (
	"context"
	"crypto/x509"
	"net/url"
	"testing"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/subjects"
)

// denyAll identifies every caller as a plain user and denies every decision.
type denyAll struct{}

func (denyAll) Identify(_ context.Context, user string, _ *x509.Certificate) (Identity, error) {
	return Identity{Subject: subjects.OfUser(user)}, nil
}

func (denyAll) Decide(context.Context, authz.Request) authz.Decision {
	return authz.Decision{Code: "missing_operation", Reason: "no grant"}
}

// FuzzPluginRequest: whatever the method, URI, body and headers, a caller
// who holds nothing is allowed only the calls that need no operation
// (ping, version, info, auth) — never a panic, never another allow.
func FuzzPluginRequest(f *testing.F) {
	f.Add("POST", "/v1.51/containers/create", `{"HostConfig":{"Privileged":true}}`, "")
	f.Add("GET", "/_ping", "", "")
	f.Add("POST", "/services/create", `{"TaskTemplate":{"ContainerSpec":{"Secrets":[{"SecretID":"x"}]},"Networks":[{"Target":"host"}]}}`, "")
	f.Add("GET", "/containers/x/json", "", "s3cret")
	f.Add("DELETE", "/images/a/b/c?force=1", "", "")
	f.Add("POST", "/v1.51/../containers/create", `{}`, "")
	f.Add("GET", "/v1.24/version%2F..", "", "")
	f.Add("POST", "/commit?container=%00", "", "")
	f.Fuzz(func(t *testing.T, method, uri, body, secret string) {
		p := newTestPlugin(t, denyAll{}, nil)
		req := request(t, "dev", method, uri, body, map[string]string{LookupHeader: secret})
		res := p.AuthZReq(context.Background(), req)
		if !res.Allow {
			if res.Msg == "" {
				t.Fatalf("%s %q: denied without a reason", method, uri)
			}
			return
		}
		u, err := url.ParseRequestURI(uri)
		if err != nil {
			t.Fatalf("%s %q allowed with an unreadable URI", method, uri)
		}
		rt, _, ok := match(method, u.Path)
		own := secret == "s3cret" && ok && rt.pattern == lookupPaths[rt.target]
		if !ok || rt.access != authenticated && !own {
			t.Fatalf("%s %q allowed for a caller holding nothing", method, uri)
		}
	})
}
