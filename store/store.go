package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	autopilot "github.com/hashicorp/raft-autopilot"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// Config configures a store node.
type Config struct {
	// Dir holds the raft log, stable store and snapshots.
	Dir string
	// NodeID names this node in the raft configuration.
	NodeID string
	// Logger receives raft's warnings and errors.
	Logger *slog.Logger
	// SnapshotThreshold is how many log entries trigger a snapshot.
	SnapshotThreshold uint64
	// ApplyTimeout bounds a write whose context has no deadline.
	ApplyTimeout time.Duration
	// Cluster, when set, makes the node a member of a raft cluster over
	// the network (cluster.go); without it the node is a cluster of one.
	Cluster *ClusterConfig
	// Observe, when set, sees every committed write (and every restore)
	// before its revision becomes visible to readers that wait for it. It
	// runs on the apply path, so it must be fast.
	Observe Observer
	// Preview, when set, sees a restored state before it is installed.
	Preview Previewer
}

// DefaultConfig is a single node storing its data in dir.
func DefaultConfig(dir string) Config {
	return Config{Dir: dir, NodeID: "grantd-0", Logger: slog.Default(),
		SnapshotThreshold: 8192, ApplyTimeout: 10 * time.Second}
}

// Store is grantd's replicated state.
type Store struct {
	cfg   Config
	fsm   *fsm
	raft  *raft.Raft
	bolt  *raftboltdb.BoltStore
	trans io.Closer
	// mux serves the cluster port and fwd forwards writes to the leader
	// (cluster nodes only).
	mux *clusterMux
	fwd forwarder
	// leftLeading is when this node last stopped leading (unix nanos), and
	// closed ends the goroutine that watches it.
	leftLeading atomic.Int64
	closed      chan struct{}
	// started is closed once raft runs (startRaft): the cluster port
	// serves from before then, and what it takes for this node waits.
	started chan struct{}
	// caughtUp is set once WaitReady has seen the node apply its leader's
	// committed log.
	caughtUp atomic.Bool
	// pilot and autopilot run dead-server clean-up on the leader.
	pilot     *pilot
	autopilot *autopilot.Autopilot
	// peerOut queues Broadcast's messages; peerHandler takes the others'.
	peerOut     chan []byte
	peerMu      sync.Mutex
	peerHandler func(body []byte)
	closeOnce   sync.Once
	// logOut carries raft's log lines into the configured slog logger.
	logOut *slogWriter
}

// Open starts the store node. A node without existing state bootstraps a
// cluster: of itself, or of Cluster.Peers. Call WaitReady before serving.
func Open(cfg Config) (*Store, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create store dir: %w", err)
	}
	f, err := newFSM()
	if err != nil {
		return nil, err
	}
	f.observe, f.preview = cfg.Observe, cfg.Preview
	// Another process holding the log (a running grantd, say) makes the
	// open fail after a moment instead of waiting for ever.
	bolt, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.Dir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: 2 * time.Second}})
	if errors.Is(err, bbolt.ErrTimeout) {
		return nil, fmt.Errorf("open raft log: %s is in use by another process", cfg.Dir)
	} else if err != nil {
		return nil, fmt.Errorf("open raft log: %w", err)
	}
	s := &Store{cfg: cfg, fsm: f, bolt: bolt, closed: make(chan struct{}), started: make(chan struct{})}
	if err := s.startRaft(); err != nil {
		s.abandon()
		return nil, err
	}
	close(s.started)
	return s, nil
}

// abandon releases what a startRaft that failed had set up: the transport
// (and with it the cluster port), the raft log's writer, the raft log.
func (s *Store) abandon() {
	s.closeOnce.Do(func() { close(s.closed) })
	if s.trans != nil {
		_ = s.trans.Close()
	}
	if s.mux != nil {
		_ = s.mux.Close() // closed with the transport once it has one
	}
	if s.logOut != nil {
		_ = s.logOut.Close()
	}
	_ = s.bolt.Close()
}

func (s *Store) startRaft() error {
	s.logOut = newSlogWriter(s.cfg.Logger, true)
	logger := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, JSONFormat: true, Output: s.logOut})
	snaps, err := raft.NewFileSnapshotStoreWithLogger(s.cfg.Dir, 2, logger)
	if err != nil {
		return fmt.Errorf("open snapshot store: %w", err)
	}
	logs, err := raft.NewLogCache(1024, s.bolt)
	if err != nil {
		return err
	}
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(s.cfg.NodeID)
	conf.Logger = logger
	// A single node elects itself after one to two heartbeat timeouts,
	// and only then serves: keep them short so start-up is fast (it has
	// no peer to lose contact with). A cluster keeps them short too: a
	// leader lost is replaced within about a second.
	conf.HeartbeatTimeout = 50 * time.Millisecond
	conf.ElectionTimeout = 50 * time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	if s.cfg.Cluster != nil {
		conf.HeartbeatTimeout = 500 * time.Millisecond
		conf.ElectionTimeout = 500 * time.Millisecond
		conf.LeaderLeaseTimeout = 250 * time.Millisecond
		// Followers learn that an entry committed from the leader's next
		// append; without a next write that comes after CommitTimeout. A
		// write forwarded by a follower waits for it (so that the caller
		// reads its write there): 50 ms by default, 5 ms here.
		conf.CommitTimeout = 5 * time.Millisecond
	}
	conf.SnapshotThreshold = s.cfg.SnapshotThreshold
	conf.SnapshotInterval = 30 * time.Second
	conf.TrailingLogs = 4096
	conf.NoSnapshotRestoreOnStart = false

	var trans raft.Transport
	boot := raft.Configuration{}
	if c := s.cfg.Cluster; c != nil {
		mux, err := newClusterMux(*c, s.serveForwarded)
		if err != nil {
			return err
		}
		s.mux = mux
		// MaxRPCsInFlight 1 turns raft's pipelined replication off: with
		// it, a follower that answers a stale term or a refusal can leave
		// the leader's sender parked for good (hashicorp/raft#612), so
		// that follower gets no more entries and Close never returns.
		nt := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{Stream: mux, MaxPool: 4,
			MaxRPCsInFlight: 1, Timeout: 5 * time.Second, Logger: logger})
		trans, s.trans = nt, nt
		for _, p := range c.Peers {
			boot.Servers = append(boot.Servers, raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Address)})
		}
	} else {
		addr, it := raft.NewInmemTransport(raft.ServerAddress(s.cfg.NodeID))
		trans, s.trans = it, it
		boot.Servers = []raft.Server{{ID: conf.LocalID, Address: addr}}
	}
	existing, err := raft.HasExistingState(logs, s.bolt, snaps)
	if err != nil {
		return fmt.Errorf("inspect raft state: %w", err)
	}
	if !existing && len(boot.Servers) > 0 {
		if err := raft.BootstrapCluster(conf, logs, s.bolt, snaps, trans, boot); err != nil {
			return fmt.Errorf("bootstrap raft: %w", err)
		}
	}
	r, err := raft.NewRaft(conf, s.fsm, logs, s.bolt, snaps, trans)
	if err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	s.raft = r
	if s.mux != nil {
		s.pilot = &pilot{s: s, cfg: s.cfg.Cluster.Autopilot, seen: map[raft.ServerID]time.Time{}}
		s.autopilot = autopilot.New(r, s.pilot, autopilot.WithPromoter(&replicaPromoter{}), autopilot.WithLogger(logger),
			autopilot.WithUpdateInterval(time.Second), autopilot.WithReconcileInterval(time.Second))
		s.watchLeadership()
		s.peerOut = make(chan []byte, peerQueue)
		go s.sendPeers()
	}
	return nil
}

// WaitReady blocks until the node has a leader (a single node: until it
// leads) and has applied every entry the leader had committed, so reads
// see every write acknowledged before a restart.
func (s *Store) WaitReady(ctx context.Context) error {
	for {
		leader, _ := s.raft.LeaderWithID()
		if s.raft.State() == raft.Leader || s.cfg.Cluster != nil && leader != "" {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: no raft leader: %w", ErrNotReady, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if s.raft.State() == raft.Leader {
		if err := s.raft.Barrier(s.timeout(ctx)).Error(); err != nil {
			return fmt.Errorf("%w: raft barrier: %w", ErrNotReady, err)
		}
		s.caughtUp.Store(true)
		return nil
	}
	rev, err := s.forward(ctx, opBarrier, nil)
	if err != nil {
		return fmt.Errorf("%w: the leader's read mark: %w", ErrNotReady, err)
	}
	if err := s.WaitForRevision(ctx, rev); err != nil {
		return err
	}
	s.caughtUp.Store(true)
	return nil
}

// ReadIndex blocks until this node has applied every write committed in
// the cluster before the call: reads after it are linearizable. The
// leader commits a barrier entry (proving it still leads a quorum); a
// follower asks the leader for one and waits to apply it. Without a
// leader it fails with ErrNotReady.
func (s *Store) ReadIndex(ctx context.Context) error {
	if s.raft.State() == raft.Leader || s.mux == nil {
		if err := s.raft.Barrier(s.timeout(ctx)).Error(); err != nil {
			return fmt.Errorf("%w: %w", ErrNotReady, err)
		}
		return nil
	}
	rev, err := s.forward(ctx, opBarrier, nil)
	if err != nil {
		return err
	}
	return s.WaitForRevision(ctx, rev)
}

// waitApplied blocks until this node has applied the log up to index.
func (s *Store) waitApplied(ctx context.Context, index uint64) error {
	for s.raft.AppliedIndex() < index {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: applied %d of %d: %w", ErrNotReady, s.raft.AppliedIndex(), index, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// Ready reports whether the node has caught up once (WaitReady returned)
// and has a leader now. It does not ask for the log to be fully applied
// at this instant: a node taking writes always has some committed but not
// yet applied, and that is no reason to take it out of a load balancer.
func (s *Store) Ready() bool {
	leader, _ := s.raft.LeaderWithID()
	return s.caughtUp.Load() && leader != ""
}

// IsLeader reports whether this node leads the cluster (and so runs the
// scheduled jobs that must run once).
func (s *Store) IsLeader() bool { return s.raft.State() == raft.Leader }

// Apply submits a command and returns its revision once it is durable and
// applied. A command rejected by its checks returns their typed error. On
// a follower the command goes to the leader, and the answer (revision or
// error) is the leader's; the follower has applied the write too before
// Apply returns, so the caller reads its own write on this node.
func (s *Store) Apply(ctx context.Context, cmd Command) (uint64, error) {
	data, err := encodeCommand(cmd)
	if err != nil {
		return 0, err
	}
	if s.mux != nil && s.raft.State() != raft.Leader {
		rev, err := s.forward(ctx, opApply, data)
		if err != nil {
			if rev > 0 { // refused by the leader at its revision rev
				wctx, cancel := context.WithTimeout(ctx, s.timeout(ctx))
				_ = s.WaitForRevision(wctx, rev)
				cancel()
			}
			return 0, err
		}
		wctx, cancel := context.WithTimeout(ctx, s.timeout(ctx))
		defer cancel()
		return rev, s.WaitForRevision(wctx, rev)
	}
	return s.applyLocal(ctx, data)
}

// applyLocal submits an encoded command to raft on the leader.
func (s *Store) applyLocal(ctx context.Context, data []byte) (uint64, error) {
	fut := s.raft.Apply(data, s.timeout(ctx))
	if err := fut.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrRaftShutdown) || errors.Is(err, raft.ErrEnqueueTimeout) {
			return 0, fmt.Errorf("%w: %w", ErrNotReady, err)
		}
		return 0, fmt.Errorf("raft apply: %w", err)
	}
	if resp, ok := fut.Response().(error); ok && resp != nil {
		return 0, resp
	}
	return fut.Index(), nil
}

func (s *Store) timeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d > 0 {
			return d
		}
		return time.Millisecond
	}
	return s.cfg.ApplyTimeout
}

// Revision is the revision of the last applied write.
func (s *Store) Revision() uint64 { return s.fsm.revision.current() }

// WaitForRevision blocks until the state includes revision rev.
func (s *Store) WaitForRevision(ctx context.Context, rev uint64) error {
	return s.fsm.revision.wait(ctx, rev)
}

// credentialTables hold what turns a credential into a principal: the
// accounts, their sessions and their API tokens.
var credentialTables = map[string]bool{tableUsers: true, tableServiceAccounts: true, tableSessions: true, tableAPITokens: true}

// CredentialsRevision changes with every write that changes a user, a
// service account, a session or an API token, and with every restore: a
// principal resolved from a read taken after reading it holds until it
// changes (authn.Principals). Read it before the state, as Read reads the
// revision.
func (s *Store) CredentialsRevision() uint64 { return s.fsm.credentials.Load() }

// Read returns a consistent read-only view of the current state.
//
// The revision is read before the state: a write commits its state before
// it publishes its revision, so the state read is at least at the
// revision the read reports, never behind it (what is cached per revision,
// such as the session settings of the server's renewal check, relies on
// it; CredentialsRevision follows the same order).
func (s *Store) Read() *ReadTxn {
	rev := s.fsm.revision.current()
	return readTxn(s.fsm.db.Load(), rev)
}

// Snapshot forces a raft snapshot (and so log compaction).
func (s *Store) Snapshot() error { return s.raft.Snapshot().Error() }

// WriteSnapshot writes the current state in the snapshot format.
func (s *Store) WriteSnapshot(w io.Writer) error {
	snap := &fsmSnapshot{txn: rowsOf(s.fsm.db.Load()), index: s.fsm.revision.current()}
	return snap.write(w)
}

// Close stops raft and closes the log.
func (s *Store) Close() error {
	err := s.raft.Shutdown().Error()
	s.closeOnce.Do(func() { close(s.closed) })
	s.fwd.close()
	if nt, ok := s.trans.(*raft.NetworkTransport); ok {
		nt.CloseStreams() // the pooled connections to the other nodes
	}
	if cerr := s.trans.Close(); err == nil {
		err = cerr
	}
	if cerr := s.bolt.Close(); err == nil {
		err = cerr
	}
	_ = s.logOut.Close()
	return err
}
