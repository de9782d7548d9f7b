package store

import (
	"reflect"
	"testing"

	"github.com/grantd/grantd/subjects"
)

// A view's getters return copies that a caller may change; SharedRows'
// view returns the store's own rows, the same row at every read, and a
// change to a copy leaves them as they were.
func TestSharedRowsAreTheStoresOwn(t *testing.T) {
	s := newStore(t)
	view := s.Read()
	shared := view.SharedRows()
	if shared.Revision() != view.Revision() {
		t.Fatalf("shared view at revision %d, view at %d", shared.Revision(), view.Revision())
	}
	one := func(rows any, err error) (any, error) {
		v := reflect.ValueOf(rows)
		if err != nil || v.Len() == 0 {
			return nil, err
		}
		return v.Index(0).Interface(), nil
	}
	reads := map[string]func(*ReadTxn) (any, error){
		"User (one row)":       func(r *ReadTxn) (any, error) { return r.User("admin") },
		"Grant (one row)":      func(r *ReadTxn) (any, error) { return r.Grant("g-admin") },
		"Role (one row, deep)": func(r *ReadTxn) (any, error) { return r.Role("fullcontrol") },
		"Grants (a page)":      func(r *ReadTxn) (any, error) { return one(r.Grants("", 0)) },
		"Collections (a page)": func(r *ReadTxn) (any, error) { return one(r.Collections("", 0)) },
		"Roles (an index)":     func(r *ReadTxn) (any, error) { return one(r.Roles()) },
		"GrantsOnObject (an index)": func(r *ReadTxn) (any, error) {
			return one(r.GrantsOnObject(subjects.CollectionOf("/Shared")))
		},
		"UsersBySource (a scan)": func(r *ReadTxn) (any, error) { return one(r.UsersBySource(SourceLocal)) },
	}
	for name, read := range reads {
		a, err := read(shared)
		if err != nil || a == nil {
			t.Fatalf("%s: %v, %v", name, a, err)
		}
		if b, _ := read(shared); a != b {
			t.Errorf("%s: the shared view returned two rows for one: %p, %p", name, a, b)
		}
		c, _ := read(view)
		d, _ := read(view)
		if c == d || c == a {
			t.Errorf("%s: the view returned the store's row, not a copy", name)
		}
		if !reflect.DeepEqual(c, a) {
			t.Errorf("%s: copy %+v, row %+v", name, c, a)
		}
	}
	g, _ := view.Grant("g-admin")
	g.Role = "changed"
	if sg, _ := shared.Grant("g-admin"); sg.Role == "changed" {
		t.Error("a change to a copy reached the store's row")
	}
}
