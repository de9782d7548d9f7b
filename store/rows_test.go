package store

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/grantd/grantd/subjects"
)

// A ReadTxn over decoded snapshot rows (rowTables) answers every query as
// a ReadTxn over a memdb holding the same rows: each of its methods is
// called, by reflection, with arguments drawn from the rows' own values
// (names that extend one another, subjects, sequence numbers), and the
// answers compared. A snapshot written from either view is the same.
func TestRowTablesAnswerLikeMemdb(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	words := []string{"a", "ab", "abc", "acme", "acme2", "b", "dev", "dev2", "/", "/Shared", "/Shared/a", "x\x00y", "é"}
	// Queries ask for those and for names no row has, some of them
	// prefixes of names rows have.
	asked := append([]string{"x", "acm", "zz"}, words...)
	var subs []subjects.Subject
	for _, k := range []subjects.Kind{subjects.User, subjects.Team, subjects.Org, subjects.ServiceAccount} {
		for range 3 {
			subs = append(subs, subjects.Subject{Kind: k, Name: words[rnd.IntN(5)], Team: words[5+rnd.IntN(3)]})
		}
	}
	var objs []subjects.Object
	for _, k := range []subjects.ObjectKind{subjects.CollectionObject, subjects.RepositoryObject, subjects.NamespaceObject} {
		objs = append(objs, subjects.Object{Kind: k, Path: words[8+rnd.IntN(3)]})
	}
	// Rows take their values from small sets, so that they share names,
	// prefixes and subjects.
	shared := rowValues{
		word:    func() string { return words[rnd.IntN(len(words))] },
		number:  func() uint64 { return uint64(rnd.IntN(40)) },
		subject: func() subjects.Subject { return subs[rnd.IntN(len(subs))] },
		object:  func() subjects.Object { return objs[rnd.IntN(len(objs))] },
	}
	// The store keeps the large tables in sorted maps (sorted.go); ref is
	// a memdb with every index a radix tree.
	schema := rowSchema()
	db, err := memdb.NewMemDB(memdbSchema())
	if err != nil {
		t.Fatal(err)
	}
	ref, err := memdb.NewMemDB(schema)
	if err != nil {
		t.Fatal(err)
	}
	txn, refTxn := db.Txn(true), ref.Txn(true)
	tx := &writeTxn{Txn: txn}
	rows := map[string][]any{}
	total := 0
	for _, tb := range tables {
		ids := map[string]bool{}
		for range 300 {
			row := tb.newRow()
			fillRow(reflect.ValueOf(row).Elem(), rnd, shared)
			if !insertable(schema.Tables[tb.name], row, ids) {
				continue
			}
			if err := tx.Insert(tb.name, row); err != nil {
				t.Fatalf("%s: %v", tb.name, err)
			}
			if err := refTxn.Insert(tb.name, row); err != nil {
				t.Fatalf("%s: %v", tb.name, err)
			}
			rows[tb.name] = append(rows[tb.name], row)
			total++
		}
	}
	if err := tx.flushSorted(); err != nil {
		t.Fatal(err)
	}
	txn.Commit()
	refTxn.Commit()
	if total < 800 {
		t.Fatalf("only %d rows: too few to tell", total)
	}
	rt, err := newRowTables(schema, rows)
	if err != nil {
		t.Fatal(err)
	}
	fromRows, fromDB, fromRef := &ReadTxn{txn: rt, rev: 7}, readTxn(db, 7), &ReadTxn{txn: ref.Txn(false), rev: 7}

	args := func(m reflect.Method) []reflect.Value {
		in := []reflect.Value{}
		for i := 1; i < m.Type.NumIn(); i++ {
			var v any
			switch m.Type.In(i) {
			case reflect.TypeFor[string]():
				v = asked[rnd.IntN(len(asked))]
				if rnd.IntN(6) == 0 {
					v = ""
				}
			case reflect.TypeFor[int]():
				v = rnd.IntN(4)
			case reflect.TypeFor[uint64]():
				v = uint64(rnd.IntN(40))
			case reflect.TypeFor[subjects.Subject]():
				v = subs[rnd.IntN(len(subs))]
			case reflect.TypeFor[subjects.Object]():
				v = objs[rnd.IntN(len(objs))]
			default:
				t.Fatalf("%s: no arguments of type %v", m.Name, m.Type.In(i))
			}
			in = append(in, reflect.ValueOf(v))
		}
		return in
	}
	answered := 0
	typ := reflect.TypeOf(fromRows)
	// Each getter, of the views and of their SharedRows views (the
	// method itself returns a view: it is compared through the others).
	views := [][3]*ReadTxn{{fromRows, fromDB, fromRef}, {fromRows.SharedRows(), fromDB.SharedRows(), fromRef.SharedRows()}}
	for _, view := range views {
		fromRows, fromDB, fromRef := view[0], view[1], view[2]
		for i := range typ.NumMethod() {
			m := typ.Method(i)
			if m.Name == "SharedRows" {
				continue
			}
			for range 60 {
				in := args(m)
				got := m.Func.Call(append([]reflect.Value{reflect.ValueOf(fromRows)}, in...))
				store := m.Func.Call(append([]reflect.Value{reflect.ValueOf(fromDB)}, in...))
				want := m.Func.Call(append([]reflect.Value{reflect.ValueOf(fromRef)}, in...))
				for j := range want {
					g, s, w := got[j].Interface(), store[j].Interface(), want[j].Interface()
					if !reflect.DeepEqual(g, w) {
						t.Fatalf("%s%v: rows answer %v, memdb %v", m.Name, values(in), show(g), show(w))
					}
					if !reflect.DeepEqual(s, w) {
						t.Fatalf("%s%v: the store answers %v, a memdb of radix indexes %v", m.Name, values(in), show(s), show(w))
					}
					if v := reflect.ValueOf(w); v.Kind() == reflect.Slice && v.Len() > 0 || v.Kind() == reflect.Pointer && !v.IsNil() {
						answered++
					}
				}
			}
		}
	}
	if answered < 600 {
		t.Errorf("only %d answers held rows: the state is too small to tell", answered)
	}

	var a, b bytes.Buffer
	if err := (&fsmSnapshot{txn: rt, index: 7}).write(&a); err != nil {
		t.Fatal(err)
	}
	if err := (&fsmSnapshot{txn: rowsOf(db), index: 7}).write(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("snapshots written from the rows and from the memdb differ")
	}

	// Rows the memdb would not hold as they are, two with one primary
	// key, are refused.
	twice := map[string][]any{tableUsers: {&User{Name: "a"}, &User{Name: "a", FullName: "A"}}}
	if _, err := newRowTables(schema, twice); err == nil {
		t.Error("two users named a were taken")
	}
}

// insertable reports whether memdb takes row as it is: a value for every
// index that needs one, and a primary key not in ids yet (which it adds).
func insertable(ts *memdb.TableSchema, row any, ids map[string]bool) bool {
	_, id, _ := ts.Indexes[indexID].Indexer.(memdb.SingleIndexer).FromObject(row)
	if ids[string(id)] {
		return false
	}
	ids[string(id)] = true
	for _, idx := range ts.Indexes {
		var ok bool
		switch x := idx.Indexer.(type) {
		case memdb.SingleIndexer:
			ok, _, _ = x.FromObject(row)
		case memdb.MultiIndexer:
			ok, _, _ = x.FromObject(row)
		}
		if !ok && !idx.AllowMissing {
			return false
		}
	}
	return true
}

// rowValues makes the values fillRow puts in a row's fields.
type rowValues struct {
	word    func() string
	number  func() uint64
	subject func() subjects.Subject
	object  func() subjects.Object
}

// fillRow sets v's string, number, flag, string list, subject and object
// fields, nested structs' included, from vals.
func fillRow(v reflect.Value, rnd *rand.Rand, vals rowValues) {
	for i := range v.NumField() {
		f := v.Field(i)
		if !f.CanSet() {
			continue
		}
		switch f.Interface().(type) {
		case string:
			f.SetString(vals.word())
		case bool:
			f.SetBool(rnd.IntN(2) == 0)
		case uint64:
			f.SetUint(vals.number())
		case []string:
			var s []string
			for range rnd.IntN(3) {
				s = append(s, vals.word())
			}
			f.Set(reflect.ValueOf(s))
		case subjects.Subject:
			f.Set(reflect.ValueOf(vals.subject()))
		case subjects.Object:
			f.Set(reflect.ValueOf(vals.object()))
		default:
			if f.Kind() == reflect.Struct && f.Type().PkgPath() != "time" {
				fillRow(f, rnd, vals)
			}
		}
	}
}

func values(in []reflect.Value) []any {
	out := make([]any, len(in))
	for i, v := range in {
		out[i] = v.Interface()
	}
	return out
}

func show(v any) string {
	s := fmt.Sprintf("%+v", v)
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice {
		var parts []string
		for i := range rv.Len() {
			parts = append(parts, fmt.Sprintf("%+v", rv.Index(i).Interface()))
		}
		s = "[" + strings.Join(parts, " ") + "]"
	}
	return s
}
