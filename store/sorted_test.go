package store

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/grantd/grantd/subjects"
)

// A random sequence of writes (rows inserted, replaced with other keys,
// deleted one by one and by a query of a sorted index or of a primary key's
// prefix, some transactions aborted) leaves the store's sorted tables
// answering every lookup (exact, first, by a primary key's prefix, from a
// lower bound, and of every row) as a memdb whose indexes are all radix
// trees answers it: after every write, inside the transaction (which
// reads its own writes) and after its commit; and each transaction
// reports the changes to rows that memdb reports.
func TestSortedIndexesFollowWrites(t *testing.T) {
	rnd := rand.New(rand.NewPCG(11, 12))
	words := []string{"a", "ab", "acme", "acme2", "dev", "/", "/Shared", "/Shared/a", "x\x00y"}
	var subs []subjects.Subject
	for _, k := range []subjects.Kind{subjects.User, subjects.Team, subjects.Org} {
		for _, w := range words[:5] {
			subs = append(subs, subjects.Subject{Kind: k, Name: w, Team: "t"})
		}
	}
	var objs []subjects.Object
	for _, k := range []subjects.ObjectKind{subjects.CollectionObject, subjects.RepositoryObject} {
		for _, w := range words[4:] {
			objs = append(objs, subjects.Object{Kind: k, Path: w})
		}
	}
	vals := rowValues{
		word:    func() string { return words[rnd.IntN(len(words))] },
		number:  func() uint64 { return uint64(rnd.IntN(5)) },
		subject: func() subjects.Subject { return subs[rnd.IntN(len(subs))] },
		object:  func() subjects.Object { return objs[rnd.IntN(len(objs))] },
	}
	// The arguments a lookup of each sorted index is asked with.
	argsOf := func(d *sortedDef) []any {
		var out []any
		switch d.index {
		case indexSubject:
			for _, s := range subs {
				out = append(out, s)
			}
		case indexObject:
			for _, o := range objs {
				out = append(out, o)
			}
		default:
			for _, w := range append([]string{"ac", "zz"}, words...) {
				out = append(out, w)
			}
		}
		return out
	}
	rowTypes := map[string]func() any{}
	for _, tb := range tables {
		if _, ok := sortedTables[tb.name]; ok {
			rowTypes[tb.name] = tb.newRow
		}
	}
	names := []string{tableUsers, tableOrgMembers, tableTeamMembers, tableGrants, tableCollections}
	if len(names) != len(rowTypes) {
		t.Fatalf("the test writes %v; sorted indexes are on %d tables", names, len(rowTypes))
	}

	db, err := memdb.NewMemDB(memdbSchema())
	if err != nil {
		t.Fatal(err)
	}
	logical := rowSchema()
	ref, err := memdb.NewMemDB(logical)
	if err != nil {
		t.Fatal(err)
	}
	// same compares every lookup of every sorted index.
	compared := 0
	same := func(when string, got, want rowSource) {
		t.Helper()
		for _, d := range sortedIndexes {
			for _, arg := range argsOf(d) {
				g, gerr := allRows(got, d.table, d.index, arg)
				w, werr := allRows(want, d.table, d.index, arg)
				if (gerr != nil) != (werr != nil) || !reflect.DeepEqual(g, w) {
					t.Fatalf("%s: %s(%q): store %s (%v), radix memdb %s (%v)", when, d.name, arg, show(g), gerr, show(w), werr)
				}
				if len(w) > 0 {
					compared++
				}
				gf, _ := got.First(d.table, d.index, arg)
				wf, _ := want.First(d.table, d.index, arg)
				if gf != wf {
					t.Fatalf("%s: First %s(%q): store %v, radix memdb %v", when, d.name, arg, gf, wf)
				}
			}
		}
		for _, table := range names {
			for _, w := range append([]string{"ac", "zz", ""}, words...) {
				for _, q := range []struct {
					name string
					run  func(rowSource) ([]any, error)
				}{
					{"every row", func(src rowSource) ([]any, error) { return allRows(src, table, indexID) }},
					{"id prefix", func(src rowSource) ([]any, error) { return allRows(src, table, indexIDPrefix, w) }},
					{"lower bound", func(src rowSource) ([]any, error) {
						it, err := src.LowerBound(table, indexID, w)
						if err != nil {
							return nil, err
						}
						return rowsLeft(it), nil
					}},
				} {
					g, gerr := q.run(got)
					w2, werr := q.run(want)
					if (gerr != nil) != (werr != nil) || !reflect.DeepEqual(g, w2) {
						t.Fatalf("%s: %s %s(%q): store %s (%v), radix memdb %s (%v)", when, table, q.name, w, show(g), gerr, show(w2), werr)
					}
					if len(w2) > 0 {
						compared++
					}
				}
			}
		}
	}
	// changed is a transaction's changes as a sorted list, to compare
	// sets: the store lists a row where it first changed, memdb where it
	// last did.
	changed := func(cs []Change) []string {
		var out []string
		for _, c := range cs {
			out = append(out, fmt.Sprintf("%s %p %p", c.Table, c.Before, c.After))
		}
		slices.Sort(out)
		return out
	}
	for step := range 400 {
		txn, refTxn := db.Txn(true), ref.Txn(true)
		txn.TrackChanges()
		refTxn.TrackChanges()
		tx := &writeTxn{Txn: txn}
		for range 1 + rnd.IntN(6) {
			table := names[rnd.IntN(len(names))]
			existing, _ := allRows(refTxn, table, indexID)
			switch op := rnd.IntN(10); {
			case op < 5 || len(existing) == 0: // insert, or replace a row with the same key
				row := rowTypes[table]()
				fillRow(reflect.ValueOf(row).Elem(), rnd, vals)
				if !insertable(logical.Tables[table], row, map[string]bool{}) {
					continue
				}
				errA, errB := tx.Insert(table, row), refTxn.Insert(table, row)
				if (errA != nil) != (errB != nil) {
					t.Fatalf("insert %s %+v: store %v, radix memdb %v", table, row, errA, errB)
				}
			case op < 8: // delete one
				row := existing[rnd.IntN(len(existing))]
				if err := tx.Delete(table, row); err != nil {
					t.Fatal(err)
				}
				if err := refTxn.Delete(table, row); err != nil {
					t.Fatal(err)
				}
			case op < 9: // delete by a sorted index
				d := sortedTables[table][rnd.IntN(len(sortedTables[table]))]
				args := argsOf(d)
				arg := args[rnd.IntN(len(args))]
				n, err := tx.DeleteAll(table, d.index, arg)
				m, refErr := refTxn.DeleteAll(table, d.index, arg)
				if n != m || (err != nil) != (refErr != nil) {
					t.Fatalf("DeleteAll %s(%q): store %d %v, radix memdb %d %v", d.name, arg, n, err, m, refErr)
				}
			default: // delete by the primary key's prefix
				w := words[rnd.IntN(len(words))]
				if rnd.IntN(2) == 0 {
					n, err := tx.DeleteAll(table, indexIDPrefix, w)
					m, refErr := refTxn.DeleteAll(table, indexIDPrefix, w)
					if n != m || (err != nil) != (refErr != nil) {
						t.Fatalf("DeleteAll %s id prefix %q: store %d %v, radix memdb %d %v", table, w, n, err, m, refErr)
					}
				} else {
					n, err := tx.DeletePrefix(table, indexIDPrefix, w)
					m, refErr := refTxn.DeletePrefix(table, indexIDPrefix, w)
					if n != m || (err != nil) != (refErr != nil) {
						t.Fatalf("DeletePrefix %s %q: store %v %v, radix memdb %v %v", table, w, n, err, m, refErr)
					}
				}
			}
			same("in the transaction", tx, refTxn)
		}
		if rnd.IntN(8) == 0 {
			txn.Abort()
			refTxn.Abort()
		} else {
			if err := tx.flushSorted(); err != nil {
				t.Fatal(err)
			}
			var want []Change
			for _, c := range refTxn.Changes() {
				want = append(want, Change{Table: c.Table, Before: c.Before, After: c.After})
			}
			if g, w := changed(tx.rowChanges()), changed(want); !slices.Equal(g, w) {
				t.Fatalf("step %d: the store reports changes %v, radix memdb %v", step, g, w)
			}
			txn.Commit()
			refTxn.Commit()
		}
		same(fmt.Sprintf("after step %d", step), readTxn(db, 1).txn, ref.Txn(false))
	}
	if compared < 10000 {
		t.Errorf("only %d lookups found rows: too few to tell", compared)
	}
}

// A snapshot not in its tables' primary key order (written by hand, or
// with a row twice, of which memdb keeps the later), or whose table's rows
// are interrupted by another table's, restores the same sorted tables: the
// rows are sorted first, the later of two kept, and a table's maps hold
// all its rows.
func TestSortedIndexesOfAnUnorderedSnapshot(t *testing.T) {
	row := func(id, user string) string {
		return `{"t":"grants","r":{"id":"` + id + `","subject":"user:` + user + `","role":"viewonly","object":"collection:/Shared","scope":"subtree","createdAt":"2026-01-01T00:00:00Z"}}` + "\n"
	}
	user := func(name string) string {
		return `{"t":"users","r":{"name":"` + name + `","active":true,"source":"local","createdAt":"2026-01-01T00:00:00Z"}}` + "\n"
	}
	for name, snap := range map[string]string{
		"in order":     row("g1", "ann") + row("g2", "bob") + row("g3", "ann"),
		"out of order": row("g3", "ann") + row("g1", "ann") + row("g2", "bob"),
		"a row twice":  row("g1", "ann") + row("g2", "carl") + row("g3", "ann") + row("g2", "bob"),
		// The grants' maps are built when the users' rows begin, and
		// built again when the grants resume.
		"resumed": row("g1", "ann") + row("g2", "bob") + user("zed") + row("g3", "ann") + user("zoe"),
	} {
		db, _, err := readSnapshot(strings.NewReader(`{"version":1,"revision":3}`+"\n"+snap), nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r := readTxn(db, 3)
		if g, _ := r.Grant("g2"); name == "a row twice" && (g == nil || g.Subject != subjects.OfUser("bob")) {
			t.Errorf("%s: grant g2 is %+v, want bob's", name, g)
		}
		for user, want := range map[string]string{"ann": "g1 g3", "bob": "g2", "carl": ""} {
			gs, err := r.GrantsOfSubject(subjects.OfUser(user))
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, g := range gs {
				ids = append(ids, g.ID)
			}
			if got := strings.Join(ids, " "); got != want {
				t.Errorf("%s: grants of %s: %q, want %q", name, user, got, want)
			}
		}
		onShared, err := r.GrantsOnObject(subjects.Object{Kind: subjects.CollectionObject, Path: "/Shared"})
		if err != nil || len(onShared) != 3 {
			t.Errorf("%s: %d grants on /Shared (%v), want 3", name, len(onShared), err)
		}
		if g, _ := r.Grant("g3"); g == nil {
			t.Errorf("%s: grant g3 not found by its ID", name)
		}
		if name == "resumed" {
			if u, _ := r.User("zoe"); u == nil {
				t.Errorf("%s: user zoe not found, of the last table's rows", name)
			}
		}
	}
}

// A transaction that only reads a sorted index stores no new version of
// it: only the maps a write changed are replaced at its commit.
func TestSortedIndexesStoredOnlyWhenChanged(t *testing.T) {
	db, err := memdb.NewMemDB(memdbSchema())
	if err != nil {
		t.Fatal(err)
	}
	g := &Grant{ID: "g1", Subject: subjects.OfUser("ann"), Role: "viewonly",
		Object: subjects.Object{Kind: subjects.CollectionObject, Path: "/Shared"}, Scope: "subtree"}
	changed := func(write func(tx *writeTxn) error) []string {
		t.Helper()
		txn := db.Txn(true)
		txn.TrackChanges()
		tx := &writeTxn{Txn: txn}
		if err := write(tx); err != nil {
			t.Fatal(err)
		}
		if err := tx.flushSorted(); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range txn.Changes() {
			if c.Table == tableSortedIndexes {
				names = append(names, c.After.(*sortedIndex).Name)
			}
		}
		txn.Commit()
		slices.Sort(names)
		return names
	}
	if got := changed(func(tx *writeTxn) error { return tx.Insert(tableGrants, g) }); !slices.Equal(got, []string{"grants.id", "grants.object", "grants.subject"}) {
		t.Errorf("inserting a grant stored %v", got)
	}
	got := changed(func(tx *writeTxn) error {
		rows, err := tx.all(tableGrants, indexSubject, g.Subject)
		if err == nil && len(rows) != 1 {
			err = fmt.Errorf("%d grants of ann", len(rows))
		}
		return err
	})
	if len(got) != 0 {
		t.Errorf("reading a subject's grants stored %v", got)
	}
}

// A row's keys made at once (rowKeys, one string for all of them) are
// the keys each index makes of it (keyWith), the primary key's first.
func TestRowKeysAreEachIndexsKeys(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	words := []string{"", "a", "acme", "/Shared/a", "x\x00y"}
	vals := rowValues{
		word:   func() string { return words[rnd.IntN(len(words))] },
		number: func() uint64 { return uint64(rnd.IntN(5)) },
		subject: func() subjects.Subject {
			return subjects.Subject{Kind: subjects.Team, Name: words[rnd.IntN(len(words))], Team: "t"}
		},
		object: func() subjects.Object {
			return subjects.Object{Kind: subjects.CollectionObject, Path: words[rnd.IntN(len(words))]}
		},
	}
	checked := 0
	var scratch []byte // reused, as a restore reuses it
	for _, tb := range tables {
		defs := sortedTables[tb.name]
		if defs == nil {
			continue
		}
		for range 200 {
			row := tb.newRow()
			fillRow(reflect.ValueOf(row).Elem(), rnd, vals)
			ok, id, err := defs[0].id.FromObject(row)
			if err != nil || !ok {
				continue // a row without a primary key is refused before its keys are made
			}
			keys, err := rowKeys(defs, row, id, &scratch)
			if err != nil {
				t.Fatal(err)
			}
			for i, d := range defs {
				want, in, err := d.keyWith(row, string(id))
				if err != nil {
					t.Fatal(err)
				}
				if !in {
					want = ""
				}
				if keys[i] != want {
					t.Fatalf("%s of %+v: key %q, want %q", d.name, row, keys[i], want)
				}
			}
			checked++
		}
	}
	if checked < 500 {
		t.Fatalf("only %d rows had a primary key", checked)
	}
}

// mapOf holds every entry it is given, in key order, whatever their
// number (each half set in its own pass).
func TestMapOf(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 32, 33, 65, 1000, 100001} {
		entries := make([]sortedEntry, n)
		for i := range entries {
			entries[i] = sortedEntry{key: fmt.Sprintf("k%07d", i), row: i}
		}
		m := mapOf(slices.All(entries))
		if m.Len() != n {
			t.Errorf("%d entries: the map has %d", n, m.Len())
		}
		i := 0
		for it := m.Iterator(); !it.Done(); i++ {
			k, v, _ := it.Next()
			if i >= n || k != entries[i].key || v != i {
				t.Fatalf("%d entries: entry %d is %q: %v", n, i, k, v)
			}
		}
		if i != n {
			t.Errorf("%d entries: iterated %d", n, i)
		}
	}
}
