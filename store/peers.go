package store

import (
	"bufio"
	"encoding/binary"
	"time"
)

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
