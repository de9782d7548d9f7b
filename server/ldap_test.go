package server

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestLDAPConfigReaderPasswordIsWriteOnly(t *testing.T) {
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	cfg := map[string]any{"enabled": true, "jitUserProvisioning": true, "syncIntervalHours": 1,
		"servers": []any{map[string]any{"url": "ldap://127.0.0.1:3899", "readerDN": "cn=reader,dc=example,dc=com",
			"readerPassword": "reader-secret"}},
		"userSearchConfigs": []any{map[string]any{"baseDN": "ou=people,dc=example,dc=com", "usernameAttr": "uid"}}}
	code, out := ts.do(t, "PUT", "/v1/ldap/config", admin, cfg)
	if code != 200 {
		t.Fatalf("update: %d %v", code, out)
	}
	raw, _ := json.Marshal(out)
	if strings.Contains(string(raw), "reader-secret") {
		t.Errorf("the answer carries the reader password: %s", raw)
	}
	// Saved again without the password, the stored one is kept.
	delete(cfg["servers"].([]any)[0].(map[string]any), "readerPassword")
	cfg["syncIntervalHours"] = 2
	if code, out := ts.do(t, "PUT", "/v1/ldap/config", admin, cfg); code != 200 {
		t.Fatalf("second update: %d %v", code, out)
	}
	code, out = ts.do(t, "GET", "/v1/ldap/config", admin, nil)
	raw, _ = json.Marshal(out)
	if code != 200 || strings.Contains(string(raw), "reader-secret") || !strings.Contains(string(raw), `"readerPasswordSet":true`) ||
		out["syncIntervalHours"] != float64(2) {
		t.Errorf("get: %d %s", code, raw)
	}
	row, _ := ts.st.Read().LDAPConfig()
	if row == nil || !strings.Contains(string(row.Config), "reader-secret") {
		t.Errorf("the stored password was lost: %v", row)
	}
	// Every problem of an invalid configuration is reported at once.
	bad := map[string]any{"enabled": true, "servers": []any{map[string]any{"url": "http://x"}},
		"userSearchConfigs": []any{map[string]any{"baseDN": "nonsense", "usernameAttr": ""}}}
	code, out = ts.do(t, "PUT", "/v1/ldap/config", admin, bad)
	msg, _ := out["message"].(string)
	if code != 400 || !strings.Contains(msg, "servers[0].url") || !strings.Contains(msg, "baseDN") || !strings.Contains(msg, "usernameAttr") {
		t.Errorf("invalid config: %d %v", code, out)
	}
	// The audit log records the change, not the document.
	code, out = ts.do(t, "GET", "/v1/audit?object=ldap", admin, nil)
	raw, _ = json.Marshal(out)
	if code != 200 || !strings.Contains(string(raw), "ldap.config.update") || strings.Contains(string(raw), "reader-secret") {
		t.Errorf("audit: %d %s", code, raw)
	}
}
