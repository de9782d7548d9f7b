package store

import (
	"bufio"
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	autopilot "github.com/hashicorp/raft-autopilot"
)

// The leader runs hashicorp/raft-autopilot (as Consul, Nomad and Vault
// do): it tracks every member's health from its raft statistics, which
// it fetches over the cluster port, and removes members that have been
// unreachable longer than DeadAfter, keeping at least MinQuorum voters.
// Members are added as voters or as read replicas by an admin; autopilot
// promotes no one.

// AutopilotConfig tunes dead-server clean-up.
type AutopilotConfig struct {
	// DeadAfter is how long a member may go unreachable before it is
	// removed (0: never).
	DeadAfter time.Duration
	// MinQuorum is the fewest voters clean-up leaves.
	MinQuorum uint
}

// opStats asks a node for its raft statistics.
const opStats byte = 'S'

// nodeStats is what a node reports of its raft log.
type nodeStats struct {
	LastContactMillis int64  `json:"lastContactMs"` // -1: the node leads or never heard from a leader
	LastTerm          uint64 `json:"lastTerm"`
	LastIndex         uint64 `json:"lastIndex"`
}

func (s *Store) localStats() nodeStats {
	st := s.raft.Stats()
	out := nodeStats{LastContactMillis: -1}
	out.LastTerm, _ = strconv.ParseUint(st["last_log_term"], 10, 64)
	out.LastIndex, _ = strconv.ParseUint(st["last_log_index"], 10, 64)
	if s.raft.State() != raft.Leader {
		if lc := s.raft.LastContact(); !lc.IsZero() {
			out.LastContactMillis = time.Since(lc).Milliseconds()
		}
	}
	return out
}

// pilot is the application side of autopilot.
type pilot struct {
	s   *Store
	cfg AutopilotConfig
	mu  sync.Mutex
	// seen is when each member last answered a statistics request.
	seen  map[raft.ServerID]time.Time
	state *autopilot.State
}

func (p *pilot) AutopilotConfig() *autopilot.Config {
	return &autopilot.Config{CleanupDeadServers: p.cfg.DeadAfter > 0, LastContactThreshold: 2 * time.Second,
		MaxTrailingLogs: 1000, MinQuorum: p.cfg.MinQuorum, ServerStabilizationTime: 5 * time.Second}
}

func (p *pilot) NotifyState(st *autopilot.State) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = st
}

// KnownServers is the raft configuration, each member alive unless it
// has not answered for DeadAfter.
func (p *pilot) KnownServers() map[raft.ServerID]*autopilot.Server {
	fut := p.s.raft.GetConfiguration()
	if fut.Error() != nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	out := map[raft.ServerID]*autopilot.Server{}
	for _, srv := range fut.Configuration().Servers {
		seen, ok := p.seen[srv.ID]
		if !ok {
			seen = now // a member we have not tried yet is given the benefit of the doubt
			p.seen[srv.ID] = now
		}
		status := autopilot.NodeAlive
		if p.cfg.DeadAfter > 0 && now.Sub(seen) > p.cfg.DeadAfter {
			status = autopilot.NodeFailed
		}
		nodeType := autopilot.NodeVoter
		if srv.Suffrage != raft.Voter {
			nodeType = readReplica
		}
		out[srv.ID] = &autopilot.Server{ID: srv.ID, Name: string(srv.ID), Address: srv.Address, NodeStatus: status,
			RaftVersion: raft.ProtocolVersionMax, NodeType: nodeType, IsLeader: srv.ID == raft.ServerID(p.s.cfg.NodeID)}
	}
	return out
}

// FetchServerStats asks every member for its raft statistics.
func (p *pilot) FetchServerStats(ctx context.Context, servers map[raft.ServerID]*autopilot.Server) map[raft.ServerID]*autopilot.ServerStats {
	out := map[raft.ServerID]*autopilot.ServerStats{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for id, srv := range servers {
		wg.Go(func() {
			var st nodeStats
			if string(id) == p.s.cfg.NodeID {
				st = p.s.localStats()
			} else {
				var err error
				if st, err = p.s.fetchStats(ctx, string(srv.Address)); err != nil {
					return
				}
			}
			stats := &autopilot.ServerStats{LastTerm: st.LastTerm, LastIndex: st.LastIndex}
			if st.LastContactMillis >= 0 {
				stats.LastContact = time.Duration(st.LastContactMillis) * time.Millisecond
			}
			mu.Lock()
			out[id] = stats
			mu.Unlock()
			p.mu.Lock()
			p.seen[id] = time.Now()
			p.mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// RemoveFailedServer removes a member that has been unreachable too long.
func (p *pilot) RemoveFailedServer(srv *autopilot.Server) {
	go func() {
		p.s.cfg.Logger.Warn("removing a dead cluster member", "id", string(srv.ID), "address", string(srv.Address),
			"unreachable for more than", p.cfg.DeadAfter.String())
		if err := p.s.raft.RemoveServer(srv.ID, 0, 10*time.Second).Error(); err != nil {
			p.s.cfg.Logger.Warn("removing a dead cluster member failed", "id", string(srv.ID), "err", err)
		}
	}()
}

// fetchStats asks the node at address for its statistics (one request,
// one connection, at most a second).
func (s *Store) fetchStats(ctx context.Context, address string) (nodeStats, error) {
	conn, err := s.mux.dial(address, connForward, time.Second)
	if err != nil {
		return nodeStats{}, err
	}
	defer func() { _ = conn.Close() }()
	deadline := time.Now().Add(time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write([]byte{opStats, 0, 0, 0, 0}); err != nil {
		return nodeStats{}, err
	}
	a, err := readAnswer(bufio.NewReader(conn))
	if err != nil {
		return nodeStats{}, err
	}
	if a.err != nil {
		return nodeStats{}, a.err
	}
	var st nodeStats
	err = json.Unmarshal([]byte(a.msg), &st)
	return st, err
}

// readReplica is the autopilot node type of a non-voting member.
const readReplica autopilot.NodeType = "read-replica"

// replicaPromoter is autopilot's stable promoter without promotions:
// voters join as voters, read replicas stay non-voters.
type replicaPromoter struct{ autopilot.StablePromoter }

func (*replicaPromoter) GetNodeTypes(_ *autopilot.Config, s *autopilot.State) map[raft.ServerID]autopilot.NodeType {
	out := map[raft.ServerID]autopilot.NodeType{}
	for id, srv := range s.Servers {
		out[id] = srv.Server.NodeType
	}
	return out
}

func (*replicaPromoter) CalculatePromotionsAndDemotions(*autopilot.Config, *autopilot.State) autopilot.RaftChanges {
	return autopilot.RaftChanges{}
}

// Health is autopilot's view of the cluster, on the leader: whether every
// member is healthy, how many voters may fail without losing the quorum,
// and each member's health. ok is false elsewhere.
func (s *Store) Health() (h ClusterHealth, ok bool) {
	if s.pilot == nil {
		return ClusterHealth{}, false
	}
	s.pilot.mu.Lock()
	st := s.pilot.state
	s.pilot.mu.Unlock()
	if st == nil || s.raft.State() != raft.Leader {
		return ClusterHealth{}, false
	}
	h = ClusterHealth{Healthy: st.Healthy, FailureTolerance: st.FailureTolerance, Members: map[string]bool{}}
	for id, srv := range st.Servers {
		h.Members[string(id)] = srv.Health.Healthy
	}
	return h, true
}

// ClusterHealth is autopilot's summary.
type ClusterHealth struct {
	Healthy          bool
	FailureTolerance int
	Members          map[string]bool // member ID -> healthy
}
