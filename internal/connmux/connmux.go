// Package connmux serves gRPC and HTTP on one listening port, each with
// its own native server.
//
// It accepts the connections, terminates TLS itself and tells the
// protocols apart by the connection's first request: HTTP/1.x goes to the
// HTTP listener; on HTTP/2 it reads the client's first HEADERS frame and
// hands the connection to the gRPC listener when its content type is
// application/grpc, to the HTTP listener otherwise. grpc-go then serves the
// connection with its own HTTP/2 transport instead of through net/http
// (grpc.Server.ServeHTTP), which measured about three times slower.
//
// Connections reach the HTTP listener as *tls.Conn for HTTP/1.x (the
// request's TLS state is set) and already decrypted for HTTP/2, so the
// http.Server must accept unencrypted HTTP/2; it only ever sees HTTP/2
// that came through the TLS handshake here when TLS is configured.
//
// Imports nothing of grantd's.
package connmux

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Mux splits one listener into a gRPC and an HTTP listener.
type Mux struct {
	root net.Listener
	// tls terminates TLS on every connection; nil serves plain TCP.
	tls *tls.Config
	// timeout bounds the TLS handshake and the wait for the first request.
	timeout    time.Duration
	grpc, http *listener

	closeOnce sync.Once
	done      chan struct{}
	mu        sync.Mutex
	err       error
}

// New splits root. tc, when not nil, must offer "h2" and "http/1.1" by
// ALPN. timeout bounds how long a new connection may take to complete its
// TLS handshake and send its first request before it is closed.
func New(root net.Listener, tc *tls.Config, timeout time.Duration) *Mux {
	m := &Mux{root: root, tls: tc, timeout: timeout, done: make(chan struct{})}
	m.grpc = &listener{mux: m, conns: make(chan net.Conn), closed: make(chan struct{})}
	m.http = &listener{mux: m, conns: make(chan net.Conn), closed: make(chan struct{})}
	return m
}

// GRPC is the listener of connections whose first request is gRPC.
func (m *Mux) GRPC() net.Listener { return m.grpc }

// HTTP is the listener of every other connection.
func (m *Mux) HTTP() net.Listener { return m.http }

// Serve accepts connections until Close or until the root listener fails,
// whose error it returns (nil after Close). Either way both listeners'
// Accept fail from then on.
func (m *Mux) Serve() error {
	var backoff time.Duration
	for {
		c, err := m.root.Accept()
		if err == nil {
			backoff = 0
			go m.route(c)
			continue
		}
		if isTemporary(err) {
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
				continue
			case <-m.done:
			}
		}
		select {
		case <-m.done:
			return nil
		default:
		}
		m.shut(err)
		return err
	}
}

// Close stops accepting: the root listener is closed and both listeners'
// Accept return net.ErrClosed. Connections already handed out stay open.
func (m *Mux) Close() error {
	m.shut(net.ErrClosed)
	return m.root.Close()
}

func (m *Mux) shut(err error) {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.err = err
		m.mu.Unlock()
		close(m.done)
	})
}

func (m *Mux) closedErr() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// route classifies one connection and hands it to its listener; a
// connection that fails its handshake or sends nothing in time is closed.
func (m *Mux) route(raw net.Conn) {
	_ = raw.SetDeadline(time.Now().Add(m.timeout))
	conn := raw
	if m.tls != nil {
		tc := tls.Server(raw, m.tls)
		if err := tc.Handshake(); err != nil {
			replyPlainHTTP(err)
			_ = raw.Close()
			return
		}
		if tc.ConnectionState().NegotiatedProtocol != "h2" {
			_ = raw.SetDeadline(time.Time{})
			m.http.deliver(tc)
			return
		}
		conn = tc
	}
	s, err := sniff(conn)
	if err != nil {
		_ = conn.Close()
		return
	}
	_ = raw.SetDeadline(time.Time{})
	c := &replayConn{Conn: conn, pending: s.read, dropAck: s.dropAck}
	if s.grpc {
		m.grpc.deliver(c)
		return
	}
	m.http.deliver(c)
}

// replyPlainHTTP tells a plain HTTP client on the TLS port what went
// wrong, as net/http does.
func replyPlainHTTP(err error) {
	var re tls.RecordHeaderError
	if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader[:]) {
		_, _ = io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
	}
}

func looksLikeHTTP(hdr []byte) bool {
	switch string(hdr) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// listener is one side of the split.
type listener struct {
	mux       *Mux
	conns     chan net.Conn
	closeOnce sync.Once
	closed    chan struct{}
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-l.mux.done:
		return nil, l.mux.closedErr()
	}
}

// Close closes this side only; connections routed to it are closed.
func (l *listener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *listener) Addr() net.Addr { return l.mux.root.Addr() }

func (l *listener) deliver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.closed:
		_ = c.Close()
	case <-l.mux.done:
		_ = c.Close()
	}
}
