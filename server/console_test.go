package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/grantd/grantd/authn"
)

// consoleCall makes one request with the console's cookie (and CSRF
// header when csrf is set), returning the status and body.
func consoleCall(t *testing.T, ts *testServer, method, path, cookie, csrf string, body any) (int, string, *http.Response) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "https://"+ts.addr+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: consoleCookie, Value: cookie})
	}
	if csrf != "" {
		req.Header.Set(csrfHeader, csrf)
	}
	resp, err := ts.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out), resp
}

func TestConsoleSessionCookieAndCSRF(t *testing.T) {
	ts := startServer(t)
	code, body, resp := consoleCall(t, ts, "POST", "/ui/session", "", "", map[string]string{"username": "admin", "password": adminPassword})
	if code != 200 {
		t.Fatalf("console login: %d %s", code, body)
	}
	var c *http.Cookie
	for _, x := range resp.Cookies() {
		if x.Name == consoleCookie {
			c = x
		}
	}
	if c == nil || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || !strings.HasPrefix(c.Value, authn.SessionTokenPrefix) {
		t.Fatalf("session cookie %+v", c)
	}
	var s consoleAnswer
	if err := json.Unmarshal([]byte(body), &s); err != nil || s.CSRFToken != csrfToken(c.Value) || s.Subject != "user:admin" || !s.IsAdmin {
		t.Fatalf("login answer %s", body)
	}
	if strings.Contains(body, c.Value) {
		t.Fatal("the login answer shows the session token to scripts")
	}
	// Reads go through with the cookie alone; writes need the CSRF token.
	if code, body, _ := consoleCall(t, ts, "GET", "/v1/whoami", c.Value, "", nil); code != 200 || !strings.Contains(body, `"method":"session"`) {
		t.Errorf("whoami with the cookie: %d %s", code, body)
	}
	for _, csrf := range []string{"", "0000", csrfToken("gds_another-session")} {
		if code, body, _ := consoleCall(t, ts, "POST", "/v1/orgs", c.Value, csrf, map[string]string{"name": "forged"}); code != 403 || !strings.Contains(body, csrfHeader) {
			t.Errorf("write with CSRF token %q: %d %s", csrf, code, body)
		}
	}
	if code, body, _ := consoleCall(t, ts, "POST", "/v1/orgs", c.Value, s.CSRFToken, map[string]string{"name": "acme"}); code != 200 {
		t.Errorf("write with the CSRF token: %d %s", code, body)
	}
	// The cookie is for the REST API only, never for the token service or the webhooks.
	if code, _, _ := consoleCall(t, ts, "POST", "/kubernetes/authorize", c.Value, s.CSRFToken, map[string]string{}); code != 401 {
		t.Errorf("the webhook with the console cookie: %d, want 401", code)
	}
	// A page reloaded has only the cookie: GET /ui/session gives it the token again.
	if code, body, _ := consoleCall(t, ts, "GET", "/ui/session", c.Value, "", nil); code != 200 || !strings.Contains(body, s.CSRFToken) {
		t.Errorf("session after a reload: %d %s", code, body)
	}
	// Logging out needs the token too, ends the session and clears the cookie.
	if code, _, _ := consoleCall(t, ts, "DELETE", "/ui/session", c.Value, "", nil); code != 403 {
		t.Errorf("logout without the CSRF token: %d", code)
	}
	code, _, resp = consoleCall(t, ts, "DELETE", "/ui/session", c.Value, s.CSRFToken, nil)
	if code != 200 || len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge >= 0 {
		t.Errorf("logout: %d %v", code, resp.Cookies())
	}
	if code, _, _ := consoleCall(t, ts, "GET", "/v1/whoami", c.Value, "", nil); code != 401 {
		t.Errorf("the cookie after logout: %d, want 401", code)
	}
}

func TestConsoleLoginIsThrottledLikeTheAPI(t *testing.T) {
	ts := startServer(t)
	for i := range authn.FreeFailures {
		if code, body, _ := consoleCall(t, ts, "POST", "/ui/session", "", "", map[string]string{"username": "admin", "password": "wrong"}); code != 401 {
			t.Fatalf("failure %d: %d %s", i, code, body)
		}
	}
	if code, body, _ := consoleCall(t, ts, "POST", "/ui/session", "", "", map[string]string{"username": "admin", "password": adminPassword}); code != 429 {
		t.Errorf("the right password right after %d failures: %d %s, want 429", authn.FreeFailures, code, body)
	}
	// /auth/login shares the same throttle.
	if code, _ := ts.do(t, "POST", "/auth/login", "", map[string]string{"username": "admin", "password": adminPassword}); code != 429 {
		t.Errorf("/auth/login after the console's failures: %d, want 429", code)
	}
}

func TestConsoleAssetsAndHeaders(t *testing.T) {
	ts := startServer(t)
	for _, path := range []string{"/ui/", "/ui/app.js", "/ui/app.css"} {
		code, body, resp := consoleCall(t, ts, "GET", path, "", "", nil)
		if code != 200 || body == "" {
			t.Fatalf("%s: %d", path, code)
		}
		h := resp.Header
		if !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") || h.Get("X-Frame-Options") != "DENY" ||
			h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s headers: %v", path, h)
		}
	}
	if _, body, _ := consoleCall(t, ts, "GET", "/ui/", "", "", nil); strings.Contains(body, "<script>") || !strings.Contains(body, `src="app.js"`) {
		t.Errorf("index.html has inline script or no app.js:\n%s", body)
	}
}
