package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
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
	// Observe, when set, sees every committed write (and every restore)
	// before its revision becomes visible to readers that wait for it. It
	// runs on the apply path, so it must be fast.
	Observe Observer
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
	trans *raft.InmemTransport
	// logOut carries raft's log lines into the configured slog logger.
	logOut *slogWriter
}

// Open starts the store node. A node without existing state bootstraps a
// single-node cluster of itself. Call WaitReady before serving.
//
// Clustering is not built yet: the node talks raft over an in-memory
// transport, so the same FSM and log run unchanged once a network
// transport is added.
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
	f.observe = cfg.Observe
	// Another process holding the log (a running grantd, say) makes the
	// open fail after a moment instead of waiting for ever.
	bolt, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.Dir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: 2 * time.Second}})
	if errors.Is(err, bbolt.ErrTimeout) {
		return nil, fmt.Errorf("open raft log: %s is in use by another process", cfg.Dir)
	} else if err != nil {
		return nil, fmt.Errorf("open raft log: %w", err)
	}
	s := &Store{cfg: cfg, fsm: f, bolt: bolt}
	if err := s.startRaft(); err != nil {
		_ = bolt.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) startRaft() error {
	// Every store is one node today (an in-memory transport).
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
	// A single node elects itself after one heartbeat timeout; keep the
	// timeouts short so start-up is fast.
	conf.HeartbeatTimeout = 200 * time.Millisecond
	conf.ElectionTimeout = 200 * time.Millisecond
	conf.LeaderLeaseTimeout = 100 * time.Millisecond
	conf.SnapshotThreshold = s.cfg.SnapshotThreshold
	conf.SnapshotInterval = 30 * time.Second
	conf.TrailingLogs = 4096
	conf.NoSnapshotRestoreOnStart = false

	addr, trans := raft.NewInmemTransport(raft.ServerAddress(s.cfg.NodeID))
	s.trans = trans
	existing, err := raft.HasExistingState(logs, s.bolt, snaps)
	if err != nil {
		return fmt.Errorf("inspect raft state: %w", err)
	}
	if !existing {
		boot := raft.Configuration{Servers: []raft.Server{{ID: conf.LocalID, Address: addr}}}
		if err := raft.BootstrapCluster(conf, logs, s.bolt, snaps, trans, boot); err != nil {
			return fmt.Errorf("bootstrap raft: %w", err)
		}
	}
	r, err := raft.NewRaft(conf, s.fsm, logs, s.bolt, snaps, trans)
	if err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	s.raft = r
	return nil
}

// WaitReady blocks until this node leads and has applied every entry of
// its log, so reads see every write acknowledged before a restart.
func (s *Store) WaitReady(ctx context.Context) error {
	for s.raft.State() != raft.Leader {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: no raft leader: %w", ErrNotReady, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := s.raft.Barrier(s.timeout(ctx)).Error(); err != nil {
		return fmt.Errorf("%w: raft barrier: %w", ErrNotReady, err)
	}
	return nil
}

// Ready reports whether the node has a leader and has applied its log.
func (s *Store) Ready() bool {
	leader, _ := s.raft.LeaderWithID()
	return leader != "" && s.raft.AppliedIndex() >= s.raft.CommitIndex()
}

// IsLeader reports whether this node leads the cluster (and so runs the
// scheduled jobs that must run once).
func (s *Store) IsLeader() bool { return s.raft.State() == raft.Leader }

// Apply submits a command and returns its revision once it is durable and
// applied. A command rejected by its checks returns their typed error.
func (s *Store) Apply(ctx context.Context, cmd Command) (uint64, error) {
	data, err := encodeCommand(cmd)
	if err != nil {
		return 0, err
	}
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

// Read returns a consistent read-only view of the current state.
func (s *Store) Read() *ReadTxn {
	return &ReadTxn{txn: s.fsm.db.Load().Txn(false), rev: s.fsm.revision.current()}
}

// Snapshot forces a raft snapshot (and so log compaction).
func (s *Store) Snapshot() error { return s.raft.Snapshot().Error() }

// WriteSnapshot writes the current state in the snapshot format.
func (s *Store) WriteSnapshot(w io.Writer) error {
	snap := &fsmSnapshot{txn: s.fsm.db.Load().Txn(false), index: s.fsm.revision.current()}
	return snap.write(w)
}

// Close stops raft and closes the log.
func (s *Store) Close() error {
	err := s.raft.Shutdown().Error()
	if cerr := s.trans.Close(); err == nil {
		err = cerr
	}
	if cerr := s.bolt.Close(); err == nil {
		err = cerr
	}
	_ = s.logOut.Close()
	return err
}
