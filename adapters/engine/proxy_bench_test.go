package engine

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/grantd/grantd/subjects"
)

// BenchmarkProxyOverhead is the proxy's own work per call (identity,
// route, body, decision with a stub backend, forwarding to a stub engine
// on a unix socket), without TLS or a client:
//
//	go test -run XXX -bench ProxyOverhead -benchmem ./adapters/engine
func BenchmarkProxyOverhead(b *testing.B) {
	bk := collectionBackend{allowed: map[string]bool{"/prod": true}, def: "/prod"}
	px, _ := newTestProxy(b, bk, nil)
	cert := selfSigned(b, "maria")
	create := `{"Image":"hello","Labels":{"com.docker.ucp.access.label":"/prod"},"HostConfig":{"NetworkMode":"default","Memory":0}}`
	for _, c := range []struct{ name, method, path, body string }{
		{"create", "POST", "/v1.41/containers/create", create},
		{"volume", "POST", "/v1.41/volumes/create", `{"Name":"v","Labels":{"com.docker.ucp.access.label":"/prod"}}`},
		{"version", "GET", "/v1.41/version", ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
				r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
				w := httptest.NewRecorder()
				px.ServeHTTP(w, r)
				if w.Code >= 300 {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkFilterList is the proxy's work on a list answer of 1,000
// containers and of 1,000 volumes (half visible), shaped like dockerd's:
//
//	go test -run XXX -bench FilterList -benchmem ./adapters/engine
func BenchmarkFilterList(b *testing.B) {
	bk := collectionBackend{allowed: map[string]bool{"/prod": true}, def: "/prod"}
	px, _ := newTestProxy(b, bk, nil)
	id := Identity{Subject: subjects.OfUser("maria")}
	var containers, volumes []string
	for i := range 1000 {
		where := "/prod"
		if i%2 == 1 {
			where = "/other"
		}
		containers = append(containers, fmt.Sprintf(`{"Id":"%064d","Names":["/c%d"],"Image":"grantd-hello","ImageID":"sha256:%064d",`+
			`"Command":"/hello","Created":1764480000,"Ports":[],"Labels":{"com.docker.ucp.access.label":%q,"x":"y"},"State":"created",`+
			`"Status":"Created","HostConfig":{"NetworkMode":"default"},"NetworkSettings":{"Networks":{}},"Mounts":[]}`, i, i, i, where))
		volumes = append(volumes, fmt.Sprintf(`{"CreatedAt":"2026-11-30T05:00:00Z","Driver":"local","Labels":{"com.docker.ucp.access.label":%q},`+
			`"Mountpoint":"/var/lib/docker/volumes/%064d/_data","Name":"%064d","Options":null,"Scope":"local"}`, where, i, i))
	}
	for _, c := range []struct {
		name, pattern string
		raw           []byte
	}{
		{"containers", "/containers/json", []byte("[" + strings.Join(containers, ",") + "]")},
		{"volumes", "/volumes", []byte(`{"Volumes":[` + strings.Join(volumes, ",") + `],"Warnings":null}`)},
	} {
		rt, _, ok := match("GET", "/v1.41"+c.pattern)
		if !ok {
			b.Fatalf("no route for %s", c.pattern)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.raw)))
			for b.Loop() {
				out, err := px.filterList(context.Background(), id, rt, c.raw)
				if err != nil || bytes.Count(out, []byte(`"/prod"`)) != 500 || bytes.Contains(out, []byte(`"/other"`)) {
					b.Fatalf("%v: %.200s", err, out)
				}
			}
		})
	}
}
