package server

import (
	"net/http"
	"testing"
)

// GET /v1/backup holds every secret: system admins only.
func TestBackupIsForSystemAdmins(t *testing.T) {
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	if code, out := ts.do(t, "POST", "/v1/users", admin, map[string]any{"name": "alice", "password": "alice-pass-1"}); code != 200 {
		t.Fatalf("create alice: %d %v", code, out)
	}
	alice := ts.login(t, "alice", "alice-pass-1")
	for who, want := range map[string]int{"": http.StatusUnauthorized, "bogus": http.StatusUnauthorized,
		alice: http.StatusForbidden, admin: http.StatusOK} {
		req, _ := http.NewRequest("GET", "https://"+ts.addr+"/v1/backup", nil)
		if who != "" {
			req.Header.Set("Authorization", "Bearer "+who)
		}
		resp, err := ts.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("backup with %.12q: %d, want %d", who, resp.StatusCode, want)
		}
		if want == http.StatusOK && resp.Header.Get("X-Grantd-Revision") == "" {
			t.Error("the backup does not say its revision")
		}
	}
}
