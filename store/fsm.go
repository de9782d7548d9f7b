package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
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
	preview Previewer
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
	db, err := memdb.NewMemDB(memdbSchema())
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
		f.observe(readTxn(f.db.Load(), l.Index), []Change{})
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
	tx := &writeTxn{Txn: txn, index: index}
	if err := cmd.apply(tx); err != nil {
		return err
	}
	if err := tx.flushSorted(); err != nil {
		return err
	}
	changes := tx.rowChanges()
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
		f.observe(readTxn(f.db.Load(), index), changes)
	}
	return nil
}

// Snapshot captures the current state; Persist runs concurrently with
// further applies on the immutable memdb snapshot.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{txn: rowsOf(f.db.Load()), index: f.revision.current()}, nil
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
	txn   rowSource
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
	observe := f.observe
	var preview func(*ReadTxn)
	if f.preview != nil {
		preview = func(rows *ReadTxn) {
			if o := f.preview(rows); o != nil {
				observe = o
			}
		}
	}
	db, rev, err := f.restoredState(rc, preview)
	if err != nil {
		return err
	}
	f.db.Store(db)
	f.credentials.Store(max(rev, f.credentials.Load()+1))
	if observe != nil {
		observe(readTxn(db, rev), nil)
	}
	f.revision.advance(rev)
	return nil
}

// restoredState is the state a snapshot holds: the prepared one when the
// snapshot is the very one it was built from, else decoded from r.
func (f *fsm) restoredState(r io.Reader, preview func(*ReadTxn)) (*memdb.MemDB, uint64, error) {
	p := f.prepared.Swap(nil)
	if p == nil {
		return readSnapshot(r, preview)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, 0, err
	}
	if sha256.Sum256(data) != p.sum {
		return readSnapshot(bytes.NewReader(data), preview)
	}
	var hdr snapshotHeader
	line, _, _ := bytes.Cut(data, []byte("\n"))
	if err := json.Unmarshal(line, &hdr); err != nil {
		return nil, 0, fmt.Errorf("snapshot header: %w", err)
	}
	return p.db, hdr.Revision, nil
}

// readSnapshot builds the state a snapshot holds. When prepare is set, it
// is given that state as soon as the rows are decoded, read from the rows
// themselves (rowTables) while the memdb's indexes are still being built.
func readSnapshot(r io.Reader, prepare func(*ReadTxn)) (*memdb.MemDB, uint64, error) {
	db, err := memdb.NewMemDB(memdbSchema())
	if err != nil {
		return nil, 0, err
	}
	br := bufio.NewReaderSize(r, 1<<16)
	var buf []byte
	line, err := nextLine(br, &buf)
	var hdr snapshotHeader
	if err == nil {
		err = json.Unmarshal(line, &hdr)
	}
	if err != nil || hdr.Version != 1 {
		return nil, 0, fmt.Errorf("snapshot header: version %d: %v", hdr.Version, err)
	}
	d := &rowDecoder{r: br}
	if prepare != nil {
		d.rows = map[string]*chunks[any]{}
		d.done = func() {
			rows := make(map[string][]any, len(d.rows))
			for table, c := range d.rows {
				rows[table] = c.slice()
			}
			d.rows = nil
			if rt, err := newRowTables(rowSchema(), rows); err == nil {
				prepare(&ReadTxn{txn: rt, rev: hdr.Revision})
			}
		}
	}
	// Decoding overlaps the index inserts, which take most of the time.
	// The decoder keeps a few batches ahead of them, or, when it collects
	// the rows for a preview, runs ahead as far as it can.
	ahead := 4
	if prepare != nil {
		ahead = 1 << 14
	}
	batches := make(chan []tableRow, ahead)
	stop := make(chan struct{})
	defer close(stop)
	decodeErr := make(chan error, 1)
	go func() { decodeErr <- d.decode(batches, stop) }()
	// The sorted tables' rows are collected on a third goroutine while
	// the other tables' rows are inserted.
	sorted := newSortedBuilder()
	toSort := make(chan []tableRow, 1<<14)
	sortErr := make(chan error, 1)
	go func() {
		var err error
		for batch := range toSort {
			for _, r := range batch {
				if err == nil {
					if _, err = sorted.add(r.table, r.row); err != nil {
						err = fmt.Errorf("snapshot %s insert: %w", r.table, err)
					}
				}
			}
		}
		sortErr <- err
	}()
	txn := db.Txn(true)
	defer txn.Abort()
	err = func() error {
		defer close(toSort)
		for batch := range batches {
			for _, r := range batch {
				if _, ok := sortedTables[r.table]; ok {
					continue
				}
				if err := txn.Insert(r.table, r.row); err != nil {
					return fmt.Errorf("snapshot %s insert: %w", r.table, err)
				}
			}
			toSort <- batch
		}
		return nil
	}()
	if err != nil {
		return nil, 0, err // the deferred close(stop) ends the decoder
	}
	if err := errors.Join(<-decodeErr, <-sortErr); err != nil {
		return nil, 0, err
	}
	if err := sorted.insert(txn); err != nil {
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

// rowDecoder decodes a snapshot's rows, the lines after its header.
type rowDecoder struct {
	r   *bufio.Reader
	buf []byte // a line longer than r's buffer
	// rows, when set, collects the rows by table, and done is called once
	// they all are.
	rows map[string]*chunks[any]
	done func()
	// fields and strings serve the flat rows (flatRows).
	fields  []flatField
	strings interner
}

// decode decodes the rows into batches until the end of the stream, an
// error, or stop; it closes out either way.
func (d *rowDecoder) decode(out chan<- []tableRow, stop <-chan struct{}) error {
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
	add := func(r tableRow) bool {
		batch = append(batch, r)
		return len(batch) < batchSize || send()
	}
	for {
		line, err := nextLine(d.r, &d.buf)
		if err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("snapshot row: %w", err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		r, err := d.row(line)
		if err != nil {
			return err
		}
		if d.rows != nil {
			rows := d.rows[r.table]
			if rows == nil {
				rows = &chunks[any]{}
				d.rows[r.table] = rows
			}
			rows.add(r.row)
		}
		if !add(r) {
			return nil
		}
	}
	if len(batch) > 0 && !send() {
		return nil
	}
	if d.done != nil {
		d.done()
	}
	return nil
}

// row decodes one line. The row is decoded straight from the line when
// it has the shape Persist writes, {"t":"table","r":row}, which spares
// the JSON decoder a pass over it, and by hand when it is a flat row
// (flatRows); any other line is decoded as JSON.
func (d *rowDecoder) row(line []byte) (tableRow, error) {
	if name, body, ok := splitRow(line); ok {
		if i, ok := tableIndex[string(name)]; ok {
			if flat := flatRows[tables[i].name]; flat != nil {
				if d.fields, ok = scanFlat(body, d.fields[:0]); ok {
					if d.strings == nil {
						d.strings = interner{}
					}
					if row, ok := flat(d.fields, d.strings); ok {
						return tableRow{tables[i].name, row}, nil
					}
				}
			}
			row := tables[i].newRow()
			if json.Unmarshal(body, row) == nil {
				return tableRow{tables[i].name, row}, nil
			}
		}
	}
	var r snapshotRow
	if err := json.Unmarshal(line, &r); err != nil {
		return tableRow{}, fmt.Errorf("snapshot row: %w", err)
	}
	i, ok := tableIndex[r.Table]
	if !ok {
		return tableRow{}, fmt.Errorf("snapshot names unknown table %q", r.Table)
	}
	row := tables[i].newRow()
	if err := json.Unmarshal(r.Row, row); err != nil {
		return tableRow{}, fmt.Errorf("snapshot %s row: %w", r.Table, err)
	}
	return tableRow{tables[i].name, row}, nil
}

// splitRow splits a line of the shape {"t":"table","r":row} whose table
// name has no escapes.
func splitRow(line []byte) (name, body []byte, ok bool) {
	rest, ok := bytes.CutPrefix(line, []byte(`{"t":"`))
	if !ok {
		return nil, nil, false
	}
	i := bytes.IndexByte(rest, '"')
	if i < 0 || bytes.IndexByte(rest[:i], '\\') >= 0 {
		return nil, nil, false
	}
	name = rest[:i]
	if body, ok = bytes.CutPrefix(rest[i+1:], []byte(`,"r":`)); !ok {
		return nil, nil, false
	}
	body, ok = bytes.CutSuffix(body, []byte("}"))
	return name, body, ok
}

// nextLine returns the next line of r without its newline, io.EOF after
// the last one. buf holds a line longer than r's buffer.
func nextLine(r *bufio.Reader, buf *[]byte) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		*buf = append((*buf)[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = r.ReadSlice('\n')
			*buf = append(*buf, line...)
		}
		line = *buf
	}
	if err == io.EOF && len(line) > 0 {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(line, []byte("\n")), nil
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
