package connmux

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
)

// testServer is a mux over a loopback listener with a real gRPC server
// (health service, answering with the caller's address as seen) and a
// real HTTP server (answering with the protocol and whether TLS is set).
type testServer struct {
	addr string
	pool *x509.CertPool
	// grpcPeers receives the peer address of each health check.
	grpcPeers chan string
}

func startServer(t *testing.T, useTLS bool, timeout time.Duration) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{addr: ln.Addr().String(), grpcPeers: make(chan string, 100)}
	var tc *tls.Config
	if useTLS {
		var cert tls.Certificate
		cert, ts.pool = selfSigned(t)
		tc = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
	}
	m := New(ln, tc, timeout)
	g := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if p, ok := peer.FromContext(ctx); ok {
			ts.grpcPeers <- p.Addr.String()
		}
		return h(ctx, req)
	}))
	healthpb.RegisterHealthServer(g, health.NewServer())
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, "%s tls=%t", r.Proto, r.TLS != nil)
	}), Protocols: new(http.Protocols)}
	hs.Protocols.SetHTTP1(true)
	hs.Protocols.SetUnencryptedHTTP2(true)
	serveErr := make(chan error, 1)
	go func() { serveErr <- m.Serve() }()
	go func() { _ = g.Serve(m.GRPC()) }()
	go func() { _ = hs.Serve(m.HTTP()) }()
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := <-serveErr; err != nil {
			t.Errorf("serve after close: %v", err)
		}
		g.Stop()
		_ = hs.Close()
	})
	return ts
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func (ts *testServer) grpcCheck(t *testing.T, creds credentials.TransportCredentials) {
	t.Helper()
	cc, err := grpc.NewClient(ts.addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	for range 3 {
		resp, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatalf("gRPC health check: %v", err)
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("status %v", resp.GetStatus())
		}
		// The gRPC server saw the client's own address, not the mux's.
		local := <-ts.grpcPeers
		if local == "" || local == ts.addr {
			t.Fatalf("peer address %q", local)
		}
	}
}

// httpGet makes n requests on one client (so on one connection when the
// protocol multiplexes) and returns the bodies.
func httpGet(t *testing.T, client *http.Client, url string, n int) []string {
	t.Helper()
	var bodies []string
	for range n {
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, string(b))
	}
	client.CloseIdleConnections()
	return bodies
}

func TestSplitTLS(t *testing.T) {
	ts := startServer(t, true, 5*time.Second)
	ts.grpcCheck(t, credentials.NewTLS(&tls.Config{RootCAs: ts.pool, ServerName: "localhost"}))

	for _, tc := range []struct {
		name   string
		protos func(*http.Protocols)
		want   string
	}{
		{"http1", func(p *http.Protocols) { p.SetHTTP1(true) }, "HTTP/1.1 tls=true"},
		// Over HTTP/2 the server gets the connection decrypted by the mux.
		{"http2", func(p *http.Protocols) { p.SetHTTP2(true) }, "HTTP/2.0 tls=false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ts.pool, ServerName: "localhost"}, Protocols: new(http.Protocols)}
			tc.protos(tr.Protocols)
			// Several requests on one connection: an HTTP/2 server shown the
			// client's acknowledgement of the mux's SETTINGS would hang up.
			for _, got := range httpGet(t, &http.Client{Transport: tr}, "https://"+ts.addr+"/", 5) {
				if got != tc.want {
					t.Fatalf("got %q, want %q", got, tc.want)
				}
			}
		})
	}
}

func TestSplitPlain(t *testing.T) {
	ts := startServer(t, false, 5*time.Second)
	ts.grpcCheck(t, insecure.NewCredentials())
	for _, tc := range []struct {
		name   string
		protos func(*http.Protocols)
		want   string
	}{
		{"http1", func(p *http.Protocols) { p.SetHTTP1(true) }, "HTTP/1.1 tls=false"},
		{"h2c", func(p *http.Protocols) { p.SetUnencryptedHTTP2(true) }, "HTTP/2.0 tls=false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &http.Transport{Protocols: new(http.Protocols)}
			tc.protos(tr.Protocols)
			for _, got := range httpGet(t, &http.Client{Transport: tr}, "http://"+ts.addr+"/", 5) {
				if got != tc.want {
					t.Fatalf("got %q, want %q", got, tc.want)
				}
			}
		})
	}
}

// A request shorter than the HTTP/2 preface is recognized as HTTP/1 at
// its first byte, without waiting for more (the timeout here is long).
func TestShortHTTP1Request(t *testing.T) {
	ts := startServer(t, false, time.Minute)
	c := dialRaw(t, ts.addr, "GET / HTTP/1.0\r\n\r\n")
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(b), "HTTP/1.0 tls=false") {
		t.Fatalf("response %q", b)
	}
}

// Clients that wait for the server's SETTINGS before their first request
// get one from the mux.
func TestSettingsSentBeforeFirstRequest(t *testing.T) {
	ts := startServer(t, false, time.Minute)
	c := dialRaw(t, ts.addr, preface+"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
	hdr, payload, err := readFrame(c)
	if err != nil {
		t.Fatal(err)
	}
	if hdr[3] != frameSettings || hdr[4]&flagAck != 0 || len(payload) != 0 {
		t.Fatalf("first frame %x %x, want an empty SETTINGS", hdr, payload)
	}
}

// A connection that sends nothing is closed after the timeout; one that
// fails the TLS handshake is closed at once.
func TestSilentAndBadConnectionsClosed(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		ts := startServer(t, useTLS, 200*time.Millisecond)
		c := dialRaw(t, ts.addr, "")
		if _, err := io.ReadAll(c); err != nil {
			t.Fatalf("tls=%t: silent connection not closed by the mux: %v", useTLS, err)
		}
	}
	ts := startServer(t, true, time.Minute)
	c := dialRaw(t, ts.addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	b, err := io.ReadAll(c)
	if err != nil || !strings.HasPrefix(string(b), "HTTP/1.0 400 Bad Request") || strings.Contains(string(b), "tls=") {
		t.Fatalf("plain request on the TLS port: %q, %v", b, err)
	}
}

// dialRaw opens a plain TCP connection to the mux with a 10 s deadline
// and writes first on it (nothing if empty); the test's end closes it.
func dialRaw(t *testing.T, addr, first string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if first != "" {
		if _, err := io.WriteString(c, first); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestCloseEndsAccept(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := New(ln, nil, time.Second)
	done := make(chan error, 1)
	go func() { done <- m.Serve() }()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}
	for _, l := range []net.Listener{m.GRPC(), m.HTTP()} {
		if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v", err)
		}
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}
