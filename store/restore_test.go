package store

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

// TestRestore: a snapshot of one store replaces the state of another, keeps
// revisions rising, survives a restart, and a broken snapshot changes nothing.
func TestRestore(t *testing.T) {
	src := newStore(t)
	mustApply(t, src, user("alice"), user("bob"))
	var snap bytes.Buffer
	if err := src.WriteSnapshot(&snap); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	dst := openStore(t, dir)
	mustApply(t, dst, Bootstrap{Admin: User{Name: "admin", PasswordHash: "other"}, Time: t0,
		SharedGrantID: "x-shared", AdminGrantID: "x-admin"}, user("carol"))
	before := dst.Revision()

	if err := dst.Restore(strings.NewReader(`{"version":1,"revision":3}` + "\n" + `{"t":"nope","r":{}}` + "\n")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("broken snapshot: %v, want ErrInvalid", err)
	}
	if u, _ := dst.Read().User("carol"); u == nil || dst.Revision() != before {
		t.Fatal("a refused snapshot changed the state")
	}

	// A snapshot of nothing but its header, without a final newline, is
	// a valid (empty) state.
	if err := dst.Restore(strings.NewReader(`{"version":1,"revision":3}`)); err != nil {
		t.Fatalf("header-only snapshot: %v", err)
	}
	if u, _ := dst.Read().User("carol"); u != nil {
		t.Fatal("the empty snapshot did not replace the state")
	}
	if dst.Revision() <= before {
		t.Fatalf("revision %d after the empty restore, not after %d", dst.Revision(), before)
	}
	before = dst.Revision()

	if err := dst.Restore(bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatal(err)
	}
	restored := dst.Revision()
	if restored <= before {
		t.Fatalf("revision went from %d to %d; it must keep rising", before, restored)
	}
	if u, _ := dst.Read().User("carol"); u != nil {
		t.Fatal("carol survived a restore that does not hold her")
	}
	if u, _ := dst.Read().User("alice"); u == nil {
		t.Fatal("alice was not restored")
	}
	next := mustApply(t, dst, user("dave"))
	if next <= restored {
		t.Fatalf("write after restore at revision %d, not after %d", next, restored)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}

	dst = openStore(t, dir)
	defer dst.Close()
	for _, name := range []string{"alice", "bob", "dave"} {
		if u, _ := dst.Read().User(name); u == nil {
			t.Fatalf("%s is gone after a restart", name)
		}
	}
	if dst.Revision() != next {
		t.Fatalf("revision %d after restart, want %d", dst.Revision(), next)
	}
	if s, _ := dst.Read().User("admin"); s == nil || s.PasswordHash != "h" {
		t.Fatal("the restored admin is not the snapshot's")
	}
}

// TestOpenInUse: a data directory held by another store (a running grantd,
// or a restore) fails to open with a clear error instead of waiting.
func TestOpenInUse(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	defer s.Close()
	if _, err := Open(DefaultConfig(dir)); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second open of %s: %v, want an in-use error", dir, err)
	}
}

// Raft's restore of the snapshot Store.Restore checked takes the state
// built while checking it; any other snapshot is decoded.
func TestRestoreTakesPreparedState(t *testing.T) {
	src := newStore(t)
	mustApply(t, src, user("alice"))
	var snap bytes.Buffer
	if err := src.WriteSnapshot(&snap); err != nil {
		t.Fatal(err)
	}
	body := snap.Bytes()
	f, err := newFSM()
	if err != nil {
		t.Fatal(err)
	}

	built, _, err := readSnapshot(bytes.NewReader(body), nil)
	if err != nil {
		t.Fatal(err)
	}
	f.prepared.Store(&preparedState{sum: sha256.Sum256(body), db: built})
	db, rev, err := f.restoredState(bytes.NewReader(body), nil)
	if err != nil || db != built || rev != src.Revision() {
		t.Fatalf("same snapshot: prepared state taken %v, revision %d (want %d), %v", db == built, rev, src.Revision(), err)
	}
	if f.prepared.Load() != nil {
		t.Error("a prepared state was kept after use")
	}

	// Another snapshot (here: one more user) is decoded, not replaced by
	// the prepared state.
	f.prepared.Store(&preparedState{sum: sha256.Sum256(body), db: built})
	mustApply(t, src, user("bob"))
	snap.Reset()
	if err := src.WriteSnapshot(&snap); err != nil {
		t.Fatal(err)
	}
	db, _, err = f.restoredState(bytes.NewReader(snap.Bytes()), nil)
	if err != nil || db == built {
		t.Fatalf("other snapshot: prepared state taken %v, %v", db == built, err)
	}
	if u, _ := (&ReadTxn{txn: rowsOf(db)}).User("bob"); u == nil {
		t.Error("the decoded snapshot lacks bob")
	}
}
