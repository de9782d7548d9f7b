package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/grantd/grantd/subjects"
)

// The indexers read fields directly, but their keys must be the ones
// memdb's reflective indexers make (queries build their keys with those):
// each index is compared, on random rows, with memdb's indexer of the same
// fields. reference lists every index of a string field; a table or index
// left out of it fails the test.
func TestIndexersKeyLikeMemdbs(t *testing.T) {
	field := func(name string) *memdb.StringFieldIndex { return &memdb.StringFieldIndex{Field: name} }
	compoundOf := func(names ...string) memdb.SingleIndexer {
		c := &memdb.CompoundIndex{}
		for _, n := range names {
			c.Indexes = append(c.Indexes, field(n))
		}
		return c
	}
	textOf := func(name string) memdb.SingleIndexer { return reflectText{name} }
	sequenceOf := func(name string) memdb.SingleIndexer { return reflectSequence{name} }
	reference := map[string]map[string]memdb.SingleIndexer{
		tableMeta:            {indexID: field("Key")},
		tableSettings:        {indexID: field("ID")},
		tableUsers:           {indexID: field("Name")},
		tableOrgs:            {indexID: field("Name")},
		tableTeams:           {indexID: compoundOf("Org", "Name")},
		tableOrgMembers:      {indexID: compoundOf("Org", "User"), indexUser: field("User")},
		tableTeamMembers:     {indexID: compoundOf("Org", "Team", "User"), indexUser: field("User")},
		tableServiceAccounts: {indexID: field("Name")},
		tableSessions:        {indexID: field("ID"), indexUser: field("User")},
		tableAPITokens:       {indexID: field("ID"), indexHash: field("Hash"), indexOwner: textOf("Owner")},
		tableCollections:     {indexID: field("Path"), indexParent: field("Parent")},
		tableRoles:           {indexID: field("ID")},
		tableGrants:          {indexID: field("ID"), indexSubject: textOf("Subject"), indexObject: textOf("Object")},
		tableRepositories:    {indexID: compoundOf("Namespace", "Name")},
		tableLDAPConfig:      {indexID: field("ID")},
		tableClientCerts:     {indexID: field("Serial"), indexOwner: textOf("Owner")},
		tableKeyMaterial:     {indexID: field("ID")},
		tableJoinTokens:      {indexID: field("ID")},
		tableSyncReports:     {indexID: sequenceOf("ID")},
		tableAuditEvents:     {indexID: sequenceOf("ID")},
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	var n int
	random := randomValues(rnd, &n)
	for _, tb := range tables {
		schema := tb.schema()
		for name, idx := range schema.Indexes {
			ours, ok := idx.Indexer.(memdb.SingleIndexer)
			if _, memdbs := idx.Indexer.(*memdb.StringSliceFieldIndex); memdbs {
				continue
			}
			want := reference[tb.name][name]
			if !ok || want == nil {
				t.Errorf("%s.%s: no reference indexer to compare with", tb.name, name)
				continue
			}
			for n = range 200 {
				row := tb.newRow()
				fillRow(reflect.ValueOf(row).Elem(), rnd, random)
				gotOK, got, gotErr := ours.FromObject(row)
				wantOK, wantKey, wantErr := want.FromObject(row)
				if gotOK != wantOK || !bytes.Equal(got, wantKey) || (gotErr == nil) != (wantErr == nil) {
					t.Fatalf("%s.%s of %+v: %v %q %v, memdb's %v %q %v", tb.name, name, row,
						gotOK, got, gotErr, wantOK, wantKey, wantErr)
				}
			}
			// A row of another type is refused, not indexed.
			if ok, _, err := ours.FromObject(&struct{ ID string }{"x"}); ok || err == nil {
				t.Errorf("%s.%s indexed a row of another type", tb.name, name)
			}
		}
	}
}

// randomValues are random values for fillRow: strings empty in the
// first rows (*n < 2) and now and then, else random, some with bytes to
// escape.
func randomValues(rnd *rand.Rand, n *int) rowValues {
	word := func() string {
		if *n < 2 || rnd.IntN(8) == 0 {
			return ""
		}
		b := make([]byte, 1+rnd.IntN(12))
		for j := range b {
			b[j] = "abz019-_./:\x00é"[rnd.IntN(13)]
		}
		return string(b)
	}
	return rowValues{
		word:   word,
		number: func() uint64 { return rnd.Uint64() >> rnd.IntN(64) },
		subject: func() subjects.Subject {
			kinds := []subjects.Kind{subjects.User, subjects.Team, subjects.Org, subjects.ServiceAccount, subjects.Anonymous, ""}
			return subjects.Subject{Kind: kinds[rnd.IntN(len(kinds))], Name: word(), Team: word()}
		},
		object: func() subjects.Object {
			kinds := []subjects.ObjectKind{subjects.CollectionObject, subjects.RepositoryObject, subjects.NamespaceObject}
			return subjects.Object{Kind: kinds[rnd.IntN(len(kinds))], Path: word()}
		},
	}
}

// reflectText is the reflective indexer of a subject or object field this
// package used before: the canonical string and a NUL.
type reflectText struct{ field string }

func (x reflectText) FromObject(obj any) (bool, []byte, error) {
	s, ok := reflect.ValueOf(obj).Elem().FieldByName(x.field).Interface().(fmt.Stringer)
	if !ok {
		return false, nil, fmt.Errorf("field %q is not a fmt.Stringer", x.field)
	}
	return true, append([]byte(s.String()), 0), nil
}

func (reflectText) FromArgs(...any) ([]byte, error) { return nil, nil }

// reflectSequence is the reflective indexer of a uint64 field this package
// used before: eight bytes, big-endian.
type reflectSequence struct{ field string }

func (x reflectSequence) FromObject(obj any) (bool, []byte, error) {
	return true, binary.BigEndian.AppendUint64(nil, reflect.ValueOf(obj).Elem().FieldByName(x.field).Uint()), nil
}

func (reflectSequence) FromArgs(...any) ([]byte, error) { return nil, nil }
