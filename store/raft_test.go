package store

// Writes through raft: what survives a restart or a snapshot, revisions,
// concurrent writers, readiness while writes are in flight, and the
// observer that sees each write before readers do.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRestartKeepsEveryWrite(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	mustApply(t, s, Bootstrap{Admin: User{Name: "admin"}, SharedGrantID: "a", AdminGrantID: "b"})
	rev := mustApply(t, s, user("keep"), CreateCollection{Collection: Collection{Path: "/k"}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	defer s.Close()
	if s.Revision() < rev {
		t.Fatalf("revision after restart %d < %d", s.Revision(), rev)
	}
	if u, _ := s.Read().User("keep"); u == nil {
		t.Fatal("user lost over restart")
	}
	if c, _ := s.Read().Collection("/k"); c == nil {
		t.Fatal("collection lost over restart")
	}
}

func TestSnapshotRestore(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	mustApply(t, s, Bootstrap{Admin: User{Name: "admin"}, SharedGrantID: "a", AdminGrantID: "b"})
	for i := range 20 {
		mustApply(t, s, user(fmt.Sprint("u", i)))
	}
	if err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	after := mustApply(t, s, user("after-snapshot"))
	var want bytes.Buffer
	if err := s.WriteSnapshot(&want); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir) // restores the snapshot, then replays the log after it
	defer s.Close()
	if s.Revision() != after {
		t.Fatalf("revision %d, want %d", s.Revision(), after)
	}
	var got bytes.Buffer
	if err := s.WriteSnapshot(&got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatal("state after snapshot restore differs")
	}
	// The snapshot format round-trips on its own too.
	db, rev, err := readSnapshot(bytes.NewReader(want.Bytes()), nil)
	if err != nil || rev != after {
		t.Fatalf("readSnapshot: rev %d, %v", rev, err)
	}
	var again bytes.Buffer
	if err := (&fsmSnapshot{txn: rowsOf(db), index: rev}).write(&again); err != nil || !bytes.Equal(again.Bytes(), want.Bytes()) {
		t.Fatal("snapshot does not round-trip")
	}
}

func TestWaitForRevision(t *testing.T) {
	s := newStore(t)
	next := s.Revision() + 1
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- s.WaitForRevision(ctx, next)
	}()
	rev := mustApply(t, s, user("waited"))
	if err := <-done; err != nil || rev < next {
		t.Fatalf("wait: %v (rev %d)", err, rev)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.WaitForRevision(ctx, rev+100); err == nil {
		t.Fatal("waiting for a future revision returned without error")
	}
}

func TestConcurrentWrites(t *testing.T) {
	s := newStore(t)
	// Readiness (what /readyz reports) must hold while writes are in
	// flight: a leader always has entries committed but not yet applied.
	stop := make(chan struct{})
	notReady := make(chan int, 1)
	go func() {
		n := 0
		defer func() { notReady <- n }()
		for {
			select {
			case <-stop:
				return
			default:
				if !s.Ready() {
					n++
				}
			}
		}
	}()
	defer func() {
		close(stop)
		if n := <-notReady; n > 0 {
			t.Errorf("Ready() was false %d times during writes", n)
		}
	}()
	var wg sync.WaitGroup
	revs := make(chan uint64, 100)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				rev, err := s.Apply(context.Background(), user(fmt.Sprintf("w%d-%d", w, i)))
				if err != nil {
					t.Error(err)
					return
				}
				revs <- rev
			}
		}()
	}
	wg.Wait()
	close(revs)
	seen := map[uint64]bool{}
	for r := range revs {
		if seen[r] {
			t.Fatalf("revision %d returned twice", r)
		}
		seen[r] = true
	}
	users, _ := s.Read().Users("", "", 0)
	if len(users) != 101 {
		t.Fatalf("users = %d", len(users))
	}
}

func TestObserverSeesWritesBeforeReaders(t *testing.T) {
	var mu sync.Mutex
	var seen []uint64
	cfg := DefaultConfig(t.TempDir())
	cfg.Observe = func(state *ReadTxn, changes []Change) {
		mu.Lock()
		seen = append(seen, state.Revision())
		mu.Unlock()
		if u, _ := state.User("admin"); u == nil || len(changes) == 0 {
			t.Error("observer does not see the committed write")
		}
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	rev := mustApply(t, s, Bootstrap{Admin: User{Name: "admin"}, SharedGrantID: "a", AdminGrantID: "b"})
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] != rev {
		t.Fatalf("observer saw %v, want [%d]", seen, rev)
	}
}

// A restore shows its state to the Previewer once the rows are decoded,
// and calls what the Previewer returns in the Observer's place; a restore
// that fails calls neither.
func TestRestorePreview(t *testing.T) {
	s := newStore(t)
	for i := range 20 {
		mustApply(t, s, user(fmt.Sprint("u", i)))
	}
	var snap bytes.Buffer
	if err := s.WriteSnapshot(&snap); err != nil {
		t.Fatal(err)
	}
	rev := s.Revision()
	var observed, installed []uint64
	var previewed *ReadTxn
	f, err := newFSM()
	if err != nil {
		t.Fatal(err)
	}
	f.observe = func(r *ReadTxn, _ []Change) { observed = append(observed, r.Revision()) }
	f.preview = func(rows *ReadTxn) Observer {
		previewed = rows
		return func(r *ReadTxn, changes []Change) {
			if changes != nil {
				t.Error("a restore's changes are not nil")
			}
			installed = append(installed, r.Revision())
		}
	}
	if err := f.Restore(io.NopCloser(bytes.NewReader(snap.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if previewed == nil || previewed.Revision() != rev || len(installed) != 1 || installed[0] != rev || len(observed) != 0 {
		t.Fatalf("previewed %v, installed %v, observed %v; want revision %d installed only", previewed != nil, installed, observed, rev)
	}
	if u, err := previewed.User("u7"); err != nil || u == nil || u.Name != "u7" {
		t.Errorf("the preview lacks u7: %v, %v", u, err)
	}

	// Without an observer of its own from the Previewer, the Observer sees it.
	previewed, installed = nil, nil
	f.preview = func(rows *ReadTxn) Observer { previewed = rows; return nil }
	if err := f.Restore(io.NopCloser(bytes.NewReader(snap.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if previewed == nil || len(observed) != 1 || observed[0] != rev {
		t.Fatalf("previewed %v, observed %v; want revision %d observed", previewed != nil, observed, rev)
	}

	// A snapshot that fails to decode is neither previewed nor observed.
	previewed, observed = nil, nil
	bad := append(bytes.Clone(snap.Bytes()), `{"t":"users","r":{"name":`...)
	if err := f.Restore(io.NopCloser(bytes.NewReader(bad))); err == nil {
		t.Fatal("a broken snapshot was restored")
	}
	if previewed != nil || len(observed) != 0 {
		t.Errorf("a failed restore was previewed (%v) or observed (%v)", previewed != nil, observed)
	}
}

// Rows need not be in the shape Persist writes: any JSON object with the
// table and the row decodes the same.
func TestSnapshotRowsInAnyShape(t *testing.T) {
	s := newStore(t)
	mustApply(t, s, user("bob"))
	var snap bytes.Buffer
	if err := s.WriteSnapshot(&snap); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(snap.String(), "\n"), "\n")
	for i := 1; i < len(lines); i++ {
		var r snapshotRow
		if err := json.Unmarshal([]byte(lines[i]), &r); err != nil {
			t.Fatal(err)
		}
		lines[i] = fmt.Sprintf(`{ "r" : %s, "t":"%s" }`, r.Row, r.Table)
	}
	other := strings.Join(lines, "\n") + "\n\n"
	db, _, err := readSnapshot(strings.NewReader(other), nil)
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := (&fsmSnapshot{txn: rowsOf(db), index: s.Revision()}).write(&again); err != nil || !bytes.Equal(again.Bytes(), snap.Bytes()) {
		t.Fatalf("rows in another shape decode to another state: %v", err)
	}
}
