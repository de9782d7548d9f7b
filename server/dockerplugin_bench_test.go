package server

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkEnginePlugin measures the engine plugin through its unix
// socket, 8 callers at once, with requests encoded as the daemon sends
// them: a container create (options from the body, collection from its
// label) and a container inspect (labels looked up through an engine API
// stub, then cached). It reports decisions per second and the latency.
func BenchmarkEnginePlugin(b *testing.B) {
	ts := startServer(b)
	admin := ts.login(b, "admin", adminPassword)
	must := func(token, method, path string, body any) map[string]any {
		code, out := ts.do(b, method, path, token, body)
		if code != 200 {
			b.Fatalf("%s %s: %d %v", method, path, code, out)
		}
		return out
	}
	must(admin, "POST", "/v1/users", map[string]any{"name": "dev", "password": "dev-password-1"})
	must(admin, "POST", "/v1/collections", map[string]any{"path": "/prod"})
	must(admin, "POST", "/v1/grants", map[string]any{"subject": "user:dev", "role": "restrictedcontrol", "object": "collection:/prod"})
	dev := ts.login(b, "dev", "dev-password-1")
	cert, _ := bundleCert(b, ts, dev, map[string]any{})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})

	dir := b.TempDir()
	engineSock := filepath.Join(dir, "engine.sock")
	eln, err := net.Listen("unix", engineSock)
	if err != nil {
		b.Fatal(err)
	}
	stub := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"Id":"c1","Config":{"Labels":{"com.docker.ucp.access.label":"/prod"}}}`)
	}), ReadHeaderTimeout: time.Second}
	go func() { _ = stub.Serve(eln) }()
	defer stub.Close()
	h, err := ts.srv.EnginePlugin(EngineConfig{API: "unix://" + engineSock, CacheTTL: 2 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	pluginSock := filepath.Join(dir, "plugin.sock")
	pln, err := net.Listen("unix", pluginSock)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = ts.srv.ServeEnginePlugin(ctx, pln, h) }()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", pluginSock)
	}}}

	createBody := []byte(`{"Image":"nginx","Labels":{"com.docker.ucp.access.label":"/prod"},"HostConfig":{"NetworkMode":"bridge","Binds":["data:/data"]}}`)
	for _, c := range []struct {
		name, method, uri string
		body              []byte
	}{
		{"container-create", "POST", "/v1.51/containers/create", createBody},
		{"container-inspect", "GET", "/v1.51/containers/c1/json", nil},
	} {
		payload, _ := json.Marshal(map[string]any{"User": "dev", "UserAuthNMethod": "TLS", "RequestMethod": c.method,
			"RequestUri": c.uri, "RequestBody": c.body, "RequestHeaders": map[string]string{"Content-Type": "application/json"},
			"RequestPeerCertificates": [][]byte{certPEM}})
		b.Run(c.name, func(b *testing.B) {
			runLoad(b, c.name, "decisions/s", 8, func() error {
				resp, err := client.Post("http://plugin/AuthZPlugin.AuthZReq", "application/json", bytes.NewReader(payload))
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				var res struct {
					Allow bool
					Msg   string
				}
				if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || !res.Allow {
					return fmt.Errorf("decision: %+v %v", res, err)
				}
				return nil
			})
		})
	}
}
