package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

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
// follower, through it) and returns once this node has applied it; a
// transfer of leadership, once this node knows the new leader.
func (s *Store) ChangeMembership(ctx context.Context, c MembershipChange) error {
	if s.mux == nil {
		return fmt.Errorf("%w: this node runs alone (start it with --cluster-listen to form a cluster)", ErrFailedPrecondition)
	}
	before, _ := s.raft.LeaderWithID()
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
	if c.Action == "transfer" && before != "" && (err == nil || errors.Is(err, ErrNotReady)) {
		// A transfer is done when this node knows the new leader. The
		// old leader may hand leadership on before its answer reaches
		// this node, which then stops waiting for it: a new leader is
		// the answer then too.
		if s.leadershipMoved(ctx, before, c.ID) {
			return nil
		}
		return err
	}
	if err != nil {
		return err
	}
	return s.waitApplied(ctx, index)
}

// leadershipMoved reports whether, within the request's time, a leader
// other than before is known here (and is to, when a target was named).
func (s *Store) leadershipMoved(ctx context.Context, before raft.ServerAddress, to string) bool {
	deadline := time.Now().Add(s.timeout(ctx))
	for {
		addr, id := s.raft.LeaderWithID()
		if addr != "" && addr != before {
			return to == "" || string(id) == to
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
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
// since it stopped leading, whichever is later. heard is false for a node
// that never heard from a leader.
func (s *Store) Staleness() (stale time.Duration, heard bool) {
	if s.mux == nil || s.raft.State() == raft.Leader {
		return 0, true
	}
	last := s.raft.LastContact()
	if left := time.Unix(0, s.leftLeading.Load()); left.After(last) {
		last = left
	}
	if last.IsZero() || last.Unix() == 0 {
		return 0, false // never heard from a leader
	}
	return time.Since(last), true
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
