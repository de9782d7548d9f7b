package server

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/authn"
)

func TestFailedLoginsAreThrottled(t *testing.T) {
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	for _, u := range []string{"carol", "dave"} {
		if code, out := ts.do(t, "POST", "/v1/users", admin, map[string]any{"name": u, "password": u + "-password"}); code != 200 {
			t.Fatalf("create %s: %d %v", u, code, out)
		}
	}
	try := func(user, password string) int {
		code, _ := ts.do(t, "POST", "/auth/login", "", map[string]string{"username": user, "password": password})
		return code
	}
	for i := range authn.FreeFailures {
		if code := try("carol", "wrong"); code != 401 {
			t.Fatalf("failure %d: %d, want 401", i, code)
		}
	}
	// The pair waits, even with the right password, and an unknown name is
	// throttled the same way as a known one.
	if code := try("carol", "carol-password"); code != 429 {
		t.Errorf("right password right after %d failures: %d, want 429", authn.FreeFailures, code)
	}
	for range authn.FreeFailures {
		try("nobody-here", "wrong")
	}
	if code := try("nobody-here", "wrong"); code != 429 {
		t.Errorf("unknown account not throttled: %d", code)
	}
	// Another account from the same address still logs in.
	if code := try("dave", "dave-password"); code != 200 {
		t.Errorf("other account: %d, want 200", code)
	}
	// After its delay, the pair may try again.
	ts.skew.Store(int64(authn.Delay(authn.FreeFailures) + time.Second))
	if code := try("carol", "carol-password"); code != 200 {
		t.Errorf("after the delay: %d, want 200", code)
	}
}

func TestSessionRenewal(t *testing.T) {
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	expiry := func() time.Time {
		t.Helper()
		sessions, err := ts.st.Read().SessionsOfUser("admin")
		if err != nil || len(sessions) != 1 {
			t.Fatalf("sessions: %v %v", sessions, err)
		}
		return sessions[0].ExpiresAt
	}
	first := expiry()
	// 30 minutes in: outside the last 20 minutes, no renewal.
	ts.skew.Store(int64(30 * time.Minute))
	if code, _ := ts.do(t, "GET", "/v1/whoami", admin, nil); code != 200 {
		t.Fatalf("whoami: %d", code)
	}
	if got := expiry(); !got.Equal(first) {
		t.Errorf("renewed outside the threshold: %v -> %v", first, got)
	}
	// 50 minutes in: inside the threshold, extended to a full lifetime.
	ts.skew.Store(int64(50 * time.Minute))
	if code, _ := ts.do(t, "GET", "/v1/whoami", admin, nil); code != 200 {
		t.Fatalf("whoami: %d", code)
	}
	renewed := expiry()
	if d := renewed.Sub(first); d < 49*time.Minute || d > 51*time.Minute {
		t.Errorf("renewal moved the expiry by %v, want ~50m", d)
	}
	// 70 minutes in: alive only thanks to the renewal.
	ts.skew.Store(int64(70 * time.Minute))
	if code, _ := ts.do(t, "GET", "/v1/whoami", admin, nil); code != 200 {
		t.Errorf("renewed session refused: %d", code)
	}
	// With renewal off, a session ends at its lifetime.
	code, out := ts.do(t, "PUT", "/v1/settings", admin, map[string]any{"defaultPrivateRole": "restrictedcontrol",
		"sessions": map[string]any{"lifetimeMinutes": 60, "renewalThresholdMinutes": 0, "perUserLimit": 10}})
	if code != 200 {
		t.Fatalf("settings: %d %v", code, out)
	}
	ts.skew.Store(int64(200 * time.Minute))
	if code, _ := ts.do(t, "GET", "/v1/whoami", admin, nil); code != 401 {
		t.Errorf("expired session accepted: %d", code)
	}
}

func TestAuditLogOverREST(t *testing.T) {
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	if code, out := ts.do(t, "POST", "/v1/users", admin, map[string]any{"name": "erin", "password": "erin-secret-pw"}); code != 200 {
		t.Fatalf("create: %d %v", code, out)
	}
	if code, out := ts.do(t, "PATCH", "/v1/users/erin", admin, map[string]any{"active": false}); code != 200 {
		t.Fatalf("update: %d %v", code, out)
	}
	code, out := ts.do(t, "GET", "/v1/audit?object=user:erin", admin, nil)
	if code != 200 {
		t.Fatalf("audit: %d %v", code, out)
	}
	events, _ := out["events"].([]any)
	if len(events) != 2 {
		t.Fatalf("events = %v", out)
	}
	upd := events[0].(map[string]any)
	if upd["action"] != "user.update" || upd["actor"] != "user:admin" || !strings.HasPrefix(upd["clientAddr"].(string), "127.0.0.1:") {
		t.Errorf("newest event = %v", upd)
	}
	var before, after map[string]any
	_ = json.Unmarshal([]byte(upd["before"].(string)), &before)
	_ = json.Unmarshal([]byte(upd["after"].(string)), &after)
	if before["active"] != true || after["active"] != false {
		t.Errorf("before %v after %v", before, after)
	}
	raw, _ := json.Marshal(out)
	if strings.Contains(string(raw), "argon2") || strings.Contains(string(raw), "erin-secret-pw") {
		t.Errorf("audit answer carries a password or its hash: %s", raw)
	}
	// Paging walks back through older events.
	code, out = ts.do(t, "GET", "/v1/audit?pageSize=1", admin, nil)
	next, _ := out["nextPageToken"].(string)
	if code != 200 || next == "" {
		t.Fatalf("first page: %d %v", code, out)
	}
	first := out["events"].([]any)[0].(map[string]any)["id"]
	code, out = ts.do(t, "GET", "/v1/audit?pageSize=1&pageToken="+next, admin, nil)
	if code != 200 || out["events"].([]any)[0].(map[string]any)["id"] == first {
		t.Errorf("second page: %d %v", code, out)
	}
	if code, _ := ts.do(t, "GET", "/v1/audit?pageToken=!!", admin, nil); code != 400 {
		t.Errorf("bad page token: %d, want 400", code)
	}
}
