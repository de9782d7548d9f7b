package store

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
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

// Forwarded requests: one byte of operation and a length-prefixed body;
// the answer is the revision, an error code and a length-prefixed message.
const (
	opApply   byte = 'A'
	opBarrier byte = 'B'
	opMember  byte = 'M'
	// maxForwarded bounds a forwarded command (the API bounds requests at a
	// few MiB; a restore never travels this way).
	maxForwarded = 64 << 20
)

// The store's typed errors, as they cross the wire.
var wireErrors = []error{nil, ErrNotFound, ErrAlreadyExists, ErrConflict, ErrFailedPrecondition, ErrInvalid, ErrNotReady}

// remoteError is an error the leader returned: its message as the leader
// wrote it, and the same typed error underneath.
type remoteError struct {
	kind error
	msg  string
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

func wireCode(err error) byte {
	for i, kind := range wireErrors[1:] {
		if errors.Is(err, kind) {
			return byte(i + 1)
		}
	}
	return byte(len(wireErrors)) // another failure
}

// serveForwarded answers the requests on one connection from a follower,
// one after another, until it closes.
func (s *Store) serveForwarded(conn net.Conn) {
	defer func() { _ = conn.Close() }()
	r := bufio.NewReader(conn)
	for {
		op, body, err := readFrame(r)
		if err != nil {
			return
		}
		if op == opPeer { // any node takes its peers' messages
			if len(body) <= maxPeerMessage {
				s.handlePeer(body)
			}
			if writeFrame(conn, 0, 0, "") != nil {
				return
			}
			continue
		}
		if op == opStats { // any node answers for itself
			b, _ := json.Marshal(s.localStats())
			if writeFrame(conn, 0, 0, string(b)) != nil {
				return
			}
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ApplyTimeout)
		var rev uint64
		switch {
		case s.raft.State() != raft.Leader:
			// Never a second hop: the follower asks the leader it knows.
			err = fmt.Errorf("%w: this node is no longer the leader", ErrNotReady)
		case op == opApply:
			rev, err = s.applyLocal(ctx, body)
		case op == opBarrier:
			rev, err = s.readMark(ctx)
		case op == opMember:
			var c MembershipChange
			if err = json.Unmarshal(body, &c); err == nil {
				rev, err = s.changeLocal(ctx, c)
			}
		default:
			err = fmt.Errorf("%w: unknown forwarded operation %q", ErrInvalid, op)
		}
		cancel()
		if err != nil && op == opApply {
			// What the refusal was decided on: the follower catches up to
			// this revision before answering, so its caller reads what the
			// leader saw. (The state machine's revision, not raft's applied
			// index, which runs ahead of it.)
			rev = s.Revision()
		}
		if writeAnswer(conn, rev, err) != nil {
			return
		}
	}
}

func readFrame(r io.Reader) (byte, []byte, error) {
	var head [5]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(head[1:])
	if n > maxForwarded {
		return 0, nil, fmt.Errorf("forwarded request of %d bytes", n)
	}
	body := make([]byte, n)
	_, err := io.ReadFull(r, body)
	return head[0], body, err
}

func writeAnswer(w io.Writer, rev uint64, err error) error {
	var msg string
	code := byte(0)
	if err != nil {
		code, msg = wireCode(err), err.Error()
	}
	return writeFrame(w, rev, code, msg)
}

// writeFrame writes an answer: the revision, an error code (0: none) and
// a message (the error's, or a body).
func writeFrame(w io.Writer, rev uint64, code byte, msg string) error {
	buf := binary.BigEndian.AppendUint64(nil, rev)
	buf = append(buf, code)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(msg)))
	_, err := w.Write(append(buf, msg...))
	return err
}

// answer is the leader's answer to a forwarded request.
type answer struct {
	rev uint64
	err error
	msg string // the body of a successful answer that has one
}

func readAnswer(r io.Reader) (answer, error) {
	var head [13]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return answer{}, err
	}
	rev, code, n := binary.BigEndian.Uint64(head[:8]), head[8], binary.BigEndian.Uint32(head[9:])
	if n > 1<<20 {
		return answer{}, fmt.Errorf("forwarded answer of %d bytes", n)
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		return answer{}, err
	}
	if code == 0 {
		return answer{rev: rev, msg: string(msg)}, nil
	}
	kind := errors.New("leader")
	if int(code) < len(wireErrors) {
		kind = wireErrors[code]
	}
	return answer{rev: rev, err: &remoteError{kind: kind, msg: string(msg)}}, nil
}

// forwarder keeps connections to the leader for forwarded writes.
type forwarder struct {
	mu   sync.Mutex
	addr string
	idle []*forwardConn
}

type forwardConn struct {
	conn net.Conn
	r    *bufio.Reader
}

// forward sends one request to the leader and returns its answer. A
// write whose answer is lost may or may not have been committed; it is
// never sent again here.
func (s *Store) forward(ctx context.Context, op byte, body []byte) (uint64, error) {
	leader, _ := s.raft.LeaderWithID()
	if leader == "" {
		return 0, fmt.Errorf("%w: the cluster has no leader", ErrNotReady)
	}
	c, err := s.fwd.get(s.mux, string(leader), s.timeout(ctx))
	if err != nil {
		return 0, fmt.Errorf("%w: cannot reach the leader at %s: %w", ErrNotReady, leader, err)
	}
	deadline := time.Now().Add(s.timeout(ctx))
	_ = c.conn.SetDeadline(deadline)
	frame := append([]byte{op}, binary.BigEndian.AppendUint32(nil, uint32(len(body)))...)
	if _, err := c.conn.Write(append(frame, body...)); err != nil {
		_ = c.conn.Close()
		return 0, fmt.Errorf("%w: forwarding to the leader at %s: %w", ErrNotReady, leader, err)
	}
	// A leader that is replaced while the request is out will not answer
	// (it is cut off, or gone): stop waiting for it then.
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if now, _ := s.raft.LeaderWithID(); now != leader {
					_ = c.conn.SetDeadline(time.Now())
					return
				}
			}
		}
	}()
	a, err := readAnswer(c.r)
	close(done)
	if err != nil {
		_ = c.conn.Close()
		return 0, fmt.Errorf("%w: the leader at %s did not answer (the write may or may not have been applied): %w",
			ErrNotReady, leader, err)
	}
	_ = c.conn.SetDeadline(time.Time{})
	s.fwd.put(string(leader), c)
	return a.rev, a.err
}

func (f *forwarder) get(m *clusterMux, addr string, timeout time.Duration) (*forwardConn, error) {
	f.mu.Lock()
	if f.addr != addr { // a new leader: the old connections go
		for _, c := range f.idle {
			_ = c.conn.Close()
		}
		f.addr, f.idle = addr, nil
	}
	if n := len(f.idle); n > 0 {
		c := f.idle[n-1]
		f.idle = f.idle[:n-1]
		f.mu.Unlock()
		return c, nil
	}
	f.mu.Unlock()
	conn, err := m.dial(addr, connForward, timeout)
	if err != nil {
		return nil, err
	}
	return &forwardConn{conn: conn, r: bufio.NewReader(conn)}, nil
}

func (f *forwarder) put(addr string, c *forwardConn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.addr != addr || len(f.idle) >= 16 {
		_ = c.conn.Close()
		return
	}
	f.idle = append(f.idle, c)
}

func (f *forwarder) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.idle {
		_ = c.conn.Close()
	}
	f.idle = nil
}

// Member is one server of the cluster's configuration.
type Member struct {
	ID, Address string
	Voter       bool
	Leader      bool
}

// Members lists the cluster's configuration as this node knows it.
func (s *Store) Members() ([]Member, error) {
	fut := s.raft.GetConfiguration()
	if err := fut.Error(); err != nil {
		return nil, err
	}
	_, leaderID := s.raft.LeaderWithID()
	var out []Member
	for _, srv := range fut.Configuration().Servers {
		out = append(out, Member{ID: string(srv.ID), Address: string(srv.Address),
			Voter: srv.Suffrage == raft.Voter, Leader: srv.ID == leaderID})
	}
	return out, nil
}

// NodeID is this node's ID.
func (s *Store) NodeID() string { return s.cfg.NodeID }

// Leader is the ID of the leader this node knows ("" when none).
func (s *Store) Leader() string {
	_, id := s.raft.LeaderWithID()
	return string(id)
}

// MembershipChange is a change of the cluster's configuration.
type MembershipChange struct {
	// Action is "add", "remove" or "transfer" (leadership).
	Action  string `json:"action"`
	ID      string `json:"id"`
	Address string `json:"address,omitempty"`
	// NonVoter adds a read replica.
	NonVoter bool `json:"nonVoter,omitempty"`
}

// ChangeMembership applies a configuration change on the leader (from a
// follower, through it) and returns once this node has applied it.
func (s *Store) ChangeMembership(ctx context.Context, c MembershipChange) error {
	if s.mux == nil {
		return fmt.Errorf("%w: this node runs alone (start it with --cluster-listen to form a cluster)", ErrFailedPrecondition)
	}
	var index uint64
	var err error
	if s.raft.State() == raft.Leader {
		index, err = s.changeLocal(ctx, c)
	} else {
		body, merr := json.Marshal(c)
		if merr != nil {
			return merr
		}
		index, err = s.forward(ctx, opMember, body)
	}
	if err != nil {
		return err
	}
	return s.waitApplied(ctx, index)
}

func (s *Store) changeLocal(ctx context.Context, c MembershipChange) (uint64, error) {
	timeout := s.timeout(ctx)
	var fut raft.Future
	switch c.Action {
	case "add":
		if c.ID == "" || c.Address == "" {
			return 0, fmt.Errorf("%w: a member needs an ID and an address", ErrInvalid)
		}
		if c.NonVoter {
			fut = s.raft.AddNonvoter(raft.ServerID(c.ID), raft.ServerAddress(c.Address), 0, timeout)
		} else {
			fut = s.raft.AddVoter(raft.ServerID(c.ID), raft.ServerAddress(c.Address), 0, timeout)
		}
	case "remove":
		members, err := s.Members()
		if err != nil {
			return 0, err
		}
		if !slices.ContainsFunc(members, func(m Member) bool { return m.ID == c.ID }) {
			return 0, fmt.Errorf("%w: no member %q", ErrNotFound, c.ID)
		}
		fut = s.raft.RemoveServer(raft.ServerID(c.ID), 0, timeout)
	case "transfer":
		if c.ID == "" {
			fut = s.raft.LeadershipTransfer()
		} else {
			var addr string
			members, err := s.Members()
			if err != nil {
				return 0, err
			}
			for _, m := range members {
				if m.ID == c.ID && m.Voter {
					addr = m.Address
				}
			}
			if addr == "" {
				return 0, fmt.Errorf("%w: no voter %q", ErrNotFound, c.ID)
			}
			fut = s.raft.LeadershipTransferToServer(raft.ServerID(c.ID), raft.ServerAddress(addr))
		}
	default:
		return 0, fmt.Errorf("%w: unknown membership action %q", ErrInvalid, c.Action)
	}
	if err := fut.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return 0, fmt.Errorf("%w: %w", ErrNotReady, err)
		}
		return 0, fmt.Errorf("%w: %w", ErrFailedPrecondition, err)
	}
	return s.raft.AppliedIndex(), nil
}

// Clustered reports whether the node runs with a cluster port.
func (s *Store) Clustered() bool { return s.mux != nil }

// LastContact is when this follower last heard from the leader (zero on
// the leader and on a node that never did).
func (s *Store) LastContact() time.Time {
	if s.raft.State() == raft.Leader {
		return time.Time{}
	}
	return s.raft.LastContact()
}

// Staleness is how long this node may have been missing writes: zero on
// the leader (which steps down when it loses its quorum) and on a single
// node; on a follower, the time since it last heard from a leader, or
// since it stopped leading, whichever is later.
func (s *Store) Staleness() time.Duration {
	if s.mux == nil || s.raft.State() == raft.Leader {
		return 0
	}
	last := s.raft.LastContact()
	if left := time.Unix(0, s.leftLeading.Load()); left.After(last) {
		last = left
	}
	if last.IsZero() || last.Unix() == 0 {
		return time.Duration(1<<63 - 1) // never heard from a leader
	}
	return time.Since(last)
}

// watchLeadership records when this node stops leading.
func (s *Store) watchLeadership() {
	ch := make(chan raft.Observation, 16)
	obs := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.RaftState)
		return ok
	})
	s.raft.RegisterObserver(obs)
	go func() {
		defer s.raft.DeregisterObserver(obs)
		leading := false
		for {
			select {
			case o := <-ch:
				st := o.Data.(raft.RaftState)
				if leading && st != raft.Leader {
					s.leftLeading.Store(time.Now().UnixNano())
					if s.autopilot != nil {
						<-s.autopilot.Stop()
					}
				}
				if !leading && st == raft.Leader && s.autopilot != nil {
					s.autopilot.Start(context.Background())
				}
				leading = st == raft.Leader
			case <-s.closed:
				if s.autopilot != nil {
					<-s.autopilot.Stop()
				}
				return
			}
		}
	}()
}

// ReadMark changes nothing: the leader commits one for a follower's
// linearizable read, and the follower waits until its own state machine
// has applied it. (A raft barrier would not do: followers do not pass
// barrier entries to the state machine, and raft's applied index runs
// ahead of the state machine.)
type ReadMark struct{}

func (ReadMark) kind() commandKind { return kindReadMark }

// describe: a ReadMark is not a change.
func (c ReadMark) describe() (action, object string, after any) { return unaudited(c) }

func (ReadMark) apply(*writeTxn) error { return nil }

// readMark commits a ReadMark on the leader and returns its revision.
func (s *Store) readMark(ctx context.Context) (uint64, error) {
	data, err := encodeCommand(ReadMark{})
	if err != nil {
		return 0, err
	}
	return s.applyLocal(ctx, data)
}

// Recover rewrites the cluster configuration in a stopped node's data
// directory to peers, for when a cluster lost its quorum for good (the
// procedure Consul's peers.json serves): the node's log is replayed into
// a snapshot and the new configuration written beside it. Run it on the
// survivors with the same peers (one survivor: itself alone), then start
// them; they elect a leader among themselves. Writes acknowledged by the
// old quorum that never reached a survivor are lost: pick the survivor
// with the highest revision.
func Recover(dir, nodeID string, peers []Peer) error {
	if len(peers) == 0 {
		return fmt.Errorf("%w: recovery needs the new members (at least this node)", ErrInvalid)
	}
	if !slices.ContainsFunc(peers, func(p Peer) bool { return p.ID == nodeID }) {
		return fmt.Errorf("%w: node %q is not among the new members", ErrInvalid, nodeID)
	}
	cfg := DefaultConfig(dir)
	cfg.NodeID = nodeID
	f, err := newFSM()
	if err != nil {
		return err
	}
	bolt, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: 2 * time.Second}})
	if errors.Is(err, bbolt.ErrTimeout) {
		return fmt.Errorf("%s is in use by a running grantd: stop it first", dir)
	} else if err != nil {
		return fmt.Errorf("open raft log: %w", err)
	}
	defer func() { _ = bolt.Close() }()
	logger := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: io.Discard})
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, logger)
	if err != nil {
		return err
	}
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(nodeID)
	conf.Logger = logger
	_, trans := raft.NewInmemTransport(raft.ServerAddress(nodeID))
	defer func() { _ = trans.Close() }()
	var servers raft.Configuration
	for _, p := range peers {
		servers.Servers = append(servers.Servers, raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Address)})
	}
	if err := raft.RecoverCluster(conf, f, bolt, bolt, snaps, trans, servers); err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	return nil
}

// opPeer carries a message for the application on the other nodes (login
// failures, so that the throttle counts cluster-wide). It is soft state:
// delivered at most once, dropped when a node is unreachable or the queue
// is full.
const opPeer byte = 'P'

// maxPeerMessage bounds one peer message; peerQueue the messages waiting.
const (
	maxPeerMessage = 4 << 10
	peerQueue      = 1024
)

// SetPeerHandler sets what receives the other nodes' messages (Broadcast).
func (s *Store) SetPeerHandler(h func(body []byte)) {
	s.peerMu.Lock()
	defer s.peerMu.Unlock()
	s.peerHandler = h
}

func (s *Store) handlePeer(body []byte) {
	s.peerMu.Lock()
	h := s.peerHandler
	s.peerMu.Unlock()
	if h != nil {
		h(body)
	}
}

// Broadcast sends body to every other member, in the background: at
// most once, and not at all to a node that cannot be reached or when
// too many messages wait. A single node has no one to tell.
func (s *Store) Broadcast(body []byte) {
	if s.mux == nil || len(body) > maxPeerMessage {
		return
	}
	select {
	case s.peerOut <- body:
	default: // a flood: soft state may be lost, never block a login
	}
}

// sendPeers delivers broadcast messages, keeping one connection per node.
func (s *Store) sendPeers() {
	conns := map[string]*forwardConn{}
	defer func() {
		for _, c := range conns {
			_ = c.conn.Close()
		}
	}()
	for {
		var body []byte
		select {
		case body = <-s.peerOut:
		case <-s.closed:
			return
		}
		members, err := s.Members()
		if err != nil {
			continue
		}
		frame := append([]byte{opPeer}, binary.BigEndian.AppendUint32(nil, uint32(len(body)))...)
		frame = append(frame, body...)
		for _, m := range members {
			if m.ID == s.cfg.NodeID {
				continue
			}
			// A kept connection may have been closed by the other end: one
			// more try on a fresh one.
			for try := 0; try < 2; try++ {
				c := conns[m.Address]
				if c == nil {
					conn, err := s.mux.dial(m.Address, connForward, time.Second)
					if err != nil {
						break
					}
					c = &forwardConn{conn: conn, r: bufio.NewReader(conn)}
					conns[m.Address] = c
				}
				_ = c.conn.SetDeadline(time.Now().Add(time.Second))
				_, err := c.conn.Write(frame)
				if err == nil {
					_, err = readAnswer(c.r)
				}
				if err == nil {
					break
				}
				_ = c.conn.Close()
				delete(conns, m.Address)
			}
		}
	}
}
