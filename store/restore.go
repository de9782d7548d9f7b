package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/raft"
)

// Restore replaces the whole state with a snapshot in the format
// WriteSnapshot writes (a backup, or a generated installation such as the
// benchmarks' reference dataset), through raft's user restore: the
// snapshot becomes the node's latest raft snapshot and the FSM is reset
// to it, so the restored state survives restarts and its revision follows
// the log like any other.
//
// The snapshot is checked completely before raft sees it (raft gives up
// on a node whose FSM refuses a restore), by building the state it holds;
// raft's restore then takes that state instead of building it again. Its
// revision is rewritten to the raft index it is restored at, so revisions
// keep rising with the log.
func (s *Store) Restore(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	db, _, err := readSnapshot(bytes.NewReader(data), nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	// raft restores at one past its last index.
	rev := s.raft.LastIndex() + 1
	hdr, err := json.Marshal(snapshotHeader{Version: 1, Revision: rev})
	if err != nil {
		return err
	}
	body := append(hdr, '\n')
	if nl := bytes.IndexByte(data, '\n'); nl >= 0 {
		body = append(body, data[nl+1:]...)
	}
	// The rows are the ones just checked: raft's restore of this body
	// takes the state built from them rather than decoding it again.
	s.fsm.prepared.Store(&preparedState{sum: sha256.Sum256(body), db: db})
	defer s.fsm.prepared.Store(nil)
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Size: int64(len(body))}
	if err := s.raft.Restore(meta, bytes.NewReader(body), 5*time.Minute); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}
