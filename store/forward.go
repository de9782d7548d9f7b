package store

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Requests followers send the leader over the cluster port: writes,
// read marks and membership changes, answered with a revision or the
// typed error.

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
	// The cluster port opens before raft starts (its transport needs it),
	// and a restarted node's peers call at once; none of their requests is
	// read until this node's raft runs.
	select {
	case <-s.started:
	case <-s.closed:
		return
	}
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
