package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	memdb "github.com/hashicorp/go-memdb"
	"github.com/hashicorp/raft"
)

// fsm applies raft log entries to the memdb database. Raft calls Apply,
// Snapshot and Restore from one goroutine; readers run concurrently on
// memdb's immutable snapshots.
type fsm struct {
	db       atomic.Pointer[memdb.MemDB]
	revision revisionWaiter
	// credentials is the revision of the last write that changed a
	// credential or its account (credentialTables), or restored the state.
	credentials atomic.Uint64
	// observe, when set, sees each committed write before its revision
	// becomes visible to WaitForRevision.
	observe Observer
	// prepared is the state Store.Restore built while checking the
	// snapshot it hands raft, so that raft's restore of those same bytes
	// does not build it a second time.
	prepared atomic.Pointer[preparedState]
}

// preparedState is a state built from a snapshot, known by the snapshot's
// SHA-256.
type preparedState struct {
	sum [sha256.Size]byte
	db  *memdb.MemDB
}

func newFSM() (*fsm, error) {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		return nil, fmt.Errorf("create memdb: %w", err)
	}
	f := &fsm{}
	f.db.Store(db)
	f.revision.init()
	return f, nil
}

var _ raft.FSM = (*fsm)(nil)

// Apply decodes and applies one command. The result is nil or the error
// that aborted the command; either way the revision advances, because the
// log entry was committed, and the observer hears of it (with no changes
// for a refused command).
func (f *fsm) Apply(l *raft.Log) any {
	err := f.applyData(l.Index, l.Data)
	if err != nil && f.observe != nil {
		f.observe(&ReadTxn{txn: f.db.Load().Txn(false), rev: l.Index}, []Change{})
	}
	f.revision.advance(l.Index)
	return err
}

func (f *fsm) applyData(index uint64, data []byte) (err error) {
	cmd, err := decodeCommand(data)
	if err != nil {
		return err
	}
	txn := f.db.Load().Txn(true)
	txn.TrackChanges()
	defer txn.Abort()
	defer func() {
		// A command that panics is a bug; it must not take the node down or
		// leave half a write behind, and it fails the same way on every replica.
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: command %T panicked: %v", ErrInvalid, cmd, r)
		}
	}()
	if err := cmd.apply(&writeTxn{Txn: txn, index: index}); err != nil {
		return err
	}
	changes := txn.Changes()
	txn.Commit()
	// After the commit: whoever reads this revision and then the state
	// sees the change (Store.CredentialsRevision).
	for _, c := range changes {
		if credentialTables[c.Table] {
			f.credentials.Store(index)
			break
		}
	}
	if f.observe != nil {
		f.observe(&ReadTxn{txn: f.db.Load().Txn(false), rev: index}, changesOf(changes))
	}
	return nil
}

// Snapshot captures the current state; Persist runs concurrently with
// further applies on the immutable memdb snapshot.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{txn: f.db.Load().Txn(false), index: f.revision.current()}, nil
}

type snapshotHeader struct {
	Version  int    `json:"version"`
	Revision uint64 `json:"revision"`
}

type snapshotRow struct {
	Table string          `json:"t"`
	Row   json.RawMessage `json:"r"`
}

type fsmSnapshot struct {
	txn   *memdb.Txn
	index uint64
}

// Persist writes the snapshot as JSON lines: a header, then one line per row.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.write(sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(snapshotHeader{Version: 1, Revision: s.index}); err != nil {
		return err
	}
	for _, t := range tables {
		it, err := s.txn.Get(t.name, indexID)
		if err != nil {
			return err
		}
		for row := it.Next(); row != nil; row = it.Next() {
			body, err := json.Marshal(row)
			if err != nil {
				return fmt.Errorf("snapshot %s: %w", t.name, err)
			}
			if err := enc.Encode(snapshotRow{Table: t.name, Row: body}); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}

func (s *fsmSnapshot) Release() {}

// Restore replaces the whole state with a snapshot, atomically: readers see
// the old database until the new one is complete.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	db, rev, err := f.restoredState(rc)
	if err != nil {
		return err
	}
	f.db.Store(db)
	f.credentials.Store(max(rev, f.credentials.Load()+1))
	if f.observe != nil {
		f.observe(&ReadTxn{txn: db.Txn(false), rev: rev}, nil)
	}
	f.revision.advance(rev)
	return nil
}

// restoredState is the state a snapshot holds: the prepared one when the
// snapshot is the very one it was built from, else decoded from r.
func (f *fsm) restoredState(r io.Reader) (*memdb.MemDB, uint64, error) {
	p := f.prepared.Swap(nil)
	if p == nil {
		return readSnapshot(r)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, 0, err
	}
	if sha256.Sum256(data) != p.sum {
		return readSnapshot(bytes.NewReader(data))
	}
	var hdr snapshotHeader
	line, _, _ := bytes.Cut(data, []byte("\n"))
	if err := json.Unmarshal(line, &hdr); err != nil {
		return nil, 0, fmt.Errorf("snapshot header: %w", err)
	}
	return p.db, hdr.Revision, nil
}

func readSnapshot(r io.Reader) (*memdb.MemDB, uint64, error) {
	newRow := map[string]func() any{}
	for _, t := range tables {
		newRow[t.name] = t.newRow
	}
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		return nil, 0, err
	}
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<16))
	var hdr snapshotHeader
	if err := dec.Decode(&hdr); err != nil || hdr.Version != 1 {
		return nil, 0, fmt.Errorf("snapshot header: version %d: %v", hdr.Version, err)
	}
	// Decoding overlaps the index inserts, which take most of the time.
	batches := make(chan []tableRow, 4)
	stop := make(chan struct{})
	defer close(stop)
	decodeErr := make(chan error, 1)
	go func() { decodeErr <- decodeRows(dec, newRow, batches, stop) }()
	txn := db.Txn(true)
	defer txn.Abort()
	for batch := range batches {
		for _, r := range batch {
			if err := txn.Insert(r.table, r.row); err != nil {
				return nil, 0, fmt.Errorf("snapshot %s insert: %w", r.table, err)
			}
		}
	}
	if err := <-decodeErr; err != nil {
		return nil, 0, err
	}
	txn.Commit()
	return db, hdr.Revision, nil
}

// tableRow is one decoded snapshot row.
type tableRow struct {
	table string
	row   any
}

// decodeRows decodes the snapshot's rows into batches until the end of
// the stream, an error, or stop; it closes out either way.
func decodeRows(dec *json.Decoder, newRow map[string]func() any, out chan<- []tableRow, stop <-chan struct{}) error {
	defer close(out)
	const batchSize = 512
	batch := make([]tableRow, 0, batchSize)
	send := func() bool {
		select {
		case out <- batch:
			batch = make([]tableRow, 0, batchSize)
			return true
		case <-stop:
			return false
		}
	}
	for {
		var line snapshotRow
		if err := dec.Decode(&line); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("snapshot row: %w", err)
		}
		mk, ok := newRow[line.Table]
		if !ok {
			return fmt.Errorf("snapshot names unknown table %q", line.Table)
		}
		row := mk()
		if err := json.Unmarshal(line.Row, row); err != nil {
			return fmt.Errorf("snapshot %s row: %w", line.Table, err)
		}
		if batch = append(batch, tableRow{line.Table, row}); len(batch) == batchSize && !send() {
			return nil
		}
	}
	if len(batch) > 0 {
		send()
	}
	return nil
}

// revisionWaiter publishes the applied revision and wakes waiters.
type revisionWaiter struct {
	mu   sync.Mutex
	rev  atomic.Uint64
	wake chan struct{}
}

func (w *revisionWaiter) init() { w.wake = make(chan struct{}) }

func (w *revisionWaiter) current() uint64 { return w.rev.Load() }

func (w *revisionWaiter) advance(rev uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if rev <= w.rev.Load() {
		return
	}
	w.rev.Store(rev)
	close(w.wake)
	w.wake = make(chan struct{})
}

func (w *revisionWaiter) wait(ctx context.Context, rev uint64) error {
	for {
		w.mu.Lock()
		if w.rev.Load() >= rev {
			w.mu.Unlock()
			return nil
		}
		wake := w.wake
		w.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return fmt.Errorf("waiting for revision %d (at %d): %w", rev, w.rev.Load(), ctx.Err())
		}
	}
}
