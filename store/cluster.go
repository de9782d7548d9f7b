package store

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// ClusterConfig makes a store node a member of a raft cluster over the
// network. Nodes talk to each other on one port, over mutual TLS only:
// raft's own traffic and the writes followers forward to the leader.
type ClusterConfig struct {
	// Listen is the address the cluster port binds.
	Listen string
	// Advertise is the address the other nodes reach this one at (default
	// Listen).
	Advertise string
	// TLS authenticates both ends: the node's certificate for serving and
	// dialling, and the cluster's CA as RootCAs and ClientCAs.
	TLS *tls.Config
	// Peers is the founding membership, the same list on every founding
	// node (this node included). A node with existing state ignores it.
	Peers []Peer
	// Autopilot tunes the leader's dead-server clean-up.
	Autopilot AutopilotConfig
}

// Peer is one member of a cluster.
type Peer struct {
	ID      string
	Address string
}

// ClusterServerName is the name every node certificate carries and every
// node checks on the others: membership of the cluster is proven by a
// certificate of the cluster's CA, whatever address a node has.
const ClusterServerName = "grantd-cluster"

// The first byte of a connection to the cluster port says what it
// carries.
const (
	connRaft    byte = 'R'
	connForward byte = 'F'
)

// clusterMux serves the cluster port: raft's connections go to raft's
// transport (through Accept), forwarded writes to the store.
type clusterMux struct {
	ln        net.Listener
	tls       *tls.Config
	advertise net.Addr
	raftConns chan net.Conn
	forward   func(net.Conn)
	done      chan struct{}
	closeOnce sync.Once
	// conns are the accepted connections, closed with the port so that
	// nothing keeps reading from a peer after the node stops.
	mu    sync.Mutex
	conns map[net.Conn]bool
}

func newClusterMux(cfg ClusterConfig, forward func(net.Conn)) (*clusterMux, error) {
	if cfg.TLS == nil || len(cfg.TLS.Certificates) == 0 && cfg.TLS.GetCertificate == nil {
		return nil, errors.New("cluster: a node certificate is required (raft never runs in clear text)")
	}
	serve := cfg.TLS.Clone()
	serve.ClientAuth = tls.RequireAndVerifyClientCert
	serve.MinVersion = tls.VersionTLS13
	ln, err := tls.Listen("tcp", cfg.Listen, serve)
	if err != nil {
		return nil, fmt.Errorf("cluster: listen on %s: %w", cfg.Listen, err)
	}
	adv := cfg.Advertise
	if adv == "" {
		adv = ln.Addr().String()
	}
	addr, err := net.ResolveTCPAddr("tcp", adv)
	if err != nil || addr.IP == nil || addr.IP.IsUnspecified() {
		_ = ln.Close()
		return nil, fmt.Errorf("cluster: advertise address %q must be a reachable host:port", adv)
	}
	m := &clusterMux{ln: ln, tls: cfg.TLS, advertise: addr, raftConns: make(chan net.Conn),
		forward: forward, done: make(chan struct{}), conns: map[net.Conn]bool{}}
	go m.serve()
	return m, nil
}

func (m *clusterMux) serve() {
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			default:
				time.Sleep(10 * time.Millisecond) // a failed handshake, a full table: keep serving
				continue
			}
		}
		if !m.track(conn) {
			_ = conn.Close()
			return
		}
		go m.route(conn)
	}
}

// track remembers an accepted connection; false once the port is closed.
func (m *clusterMux) track(conn net.Conn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conns == nil {
		return false
	}
	m.conns[conn] = true
	return true
}

// route reads what a connection carries (the TLS handshake, with the
// client's certificate checked, happens on this first read).
func (m *clusterMux) route(conn net.Conn) {
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var kind [1]byte
	if _, err := io.ReadFull(conn, kind[:]); err != nil {
		_ = conn.Close()
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	switch kind[0] {
	case connRaft:
		select {
		case m.raftConns <- conn:
		case <-m.done:
			_ = conn.Close()
		}
	case connForward:
		m.forward(conn)
	default:
		_ = conn.Close()
	}
}

// dial opens a connection of a kind to another node.
func (m *clusterMux) dial(address string, kind byte, timeout time.Duration) (net.Conn, error) {
	cfg := m.tls.Clone()
	cfg.ServerName = ClusterServerName
	cfg.MinVersion = tls.VersionTLS13
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", address, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write([]byte{kind}); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return conn, nil
}

// raft.StreamLayer:

func (m *clusterMux) Accept() (net.Conn, error) {
	select {
	case c := <-m.raftConns:
		return c, nil
	case <-m.done:
		return nil, errors.New("cluster port closed")
	}
}

func (m *clusterMux) Close() error {
	var err error
	m.closeOnce.Do(func() {
		close(m.done)
		err = m.ln.Close()
		m.mu.Lock()
		for c := range m.conns {
			_ = c.Close()
		}
		m.conns = nil
		m.mu.Unlock()
	})
	return err
}

func (m *clusterMux) Addr() net.Addr { return m.advertise }

func (m *clusterMux) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return m.dial(string(address), connRaft, timeout)
}
