package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/grantd/grantd/subjects"
)

// TestFlatRowsDecodeLikeJSON decodes the lines of every table decoded by
// hand both ways, the snapshot decoder's and encoding/json's, and wants
// the same rows: lines as Persist writes them, with plain values (decoded
// by hand) and others (escapes, non-ASCII), and lines changed into every
// shape a hand decoder could get wrong (keys in another case, unknown
// keys, numbers, nulls, nested values, spaces, a value of the other type,
// repeated keys, invalid UTF-8, truncations), for which encoding/json
// must decide alone.
func TestFlatRowsDecodeLikeJSON(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 11))
	n := 2
	random := randomValues(rnd, &n)
	// Plain values, which the hand decoder takes.
	word := func() string { return fmt.Sprintf("w%d-%s", rnd.IntN(50), "ab/._:"[rnd.IntN(6):]) }
	plainValues := rowValues{word: word, number: random.number,
		subject: func() subjects.Subject {
			if rnd.IntN(2) == 0 {
				return subjects.OfTeam(word(), word())
			}
			return subjects.OfUser(word())
		},
		object: func() subjects.Object { return subjects.CollectionOf("/" + word()) },
	}
	for name := range flatRows {
		i, plain := tableIndex[name], 0
		for k := range 400 {
			row := tables[i].newRow()
			vals := random
			if k%2 == 0 {
				vals = plainValues
			}
			fillRow(reflect.ValueOf(row).Elem(), rnd, vals)
			setTimes(reflect.ValueOf(row).Elem(), rnd)
			body, err := json.Marshal(row)
			if err != nil {
				continue // a subject or object with no text form
			}
			line := fmt.Appendf(nil, `{"t":"%s","r":%s}`, name, body)
			if fields, ok := scanFlat(body, nil); ok {
				if _, ok := flatRows[name](fields, interner{}); ok {
					plain++
				}
			}
			compareDecoders(t, name, line)
			for _, changed := range reshaped(body, rnd) {
				compareDecoders(t, name, fmt.Appendf(nil, `{"t":"%s","r":%s}`, name, changed))
			}
		}
		if plain < 400/2 {
			t.Errorf("%s: %d of 400 rows were decoded by hand, want the 200 with plain values at least", name, plain)
		}
	}
}

// setTimes sets v's time fields to random instants.
func setTimes(v reflect.Value, rnd *rand.Rand) {
	for i := range v.NumField() {
		if f := v.Field(i); f.Type() == reflect.TypeFor[time.Time]() {
			f.Set(reflect.ValueOf(time.Unix(rnd.Int64N(1<<33), rnd.Int64N(1e9)).UTC()))
		}
	}
}

// reshaped returns versions of a row's JSON changed in the ways a hand
// decoder could get wrong.
func reshaped(body []byte, rnd *rand.Rand) [][]byte {
	var out [][]byte
	add := func(b []byte) { out = append(out, b) }
	inner := body[1 : len(body)-1]
	add([]byte("{}"))
	add(append([]byte("{ "), body[1:]...))
	add(fmt.Appendf(nil, `{%s,"unknown":"x"}`, inner))
	add(fmt.Appendf(nil, `{%s,}`, inner))
	add(body[:len(body)-1])
	add(append(bytes.Clone(body), ' '))
	// The first key in another case, and each value replaced.
	if i := bytes.IndexByte(body[2:], '"'); i > 0 {
		b := bytes.Clone(body)
		b[2] ^= 0x20
		add(b)
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return out
	}
	for key, v := range fields {
		for _, repl := range []string{`1`, `null`, `true`, `false`, `"x"`, `"\u0061b"`, `"é"`, `{"a":"b"}`, `["a"]`, `"2026-01-01T00:00:00Z"`, `"user:bob"`, "\"a\xffb\""} {
			if rnd.IntN(3) > 0 {
				continue
			}
			changed := bytes.Replace(body, fmt.Appendf(nil, `"%s":%s`, key, v), fmt.Appendf(nil, `"%s":%s`, key, repl), 1)
			add(changed)
			// Repeated: the later value wins, in both decoders.
			add(fmt.Appendf(nil, `{%s,"%s":%s}`, inner, key, repl))
		}
	}
	return out
}

// compareDecoders decodes one snapshot line with the snapshot's decoder
// and with encoding/json, and fails unless both give the same row or
// both an error.
func compareDecoders(t *testing.T, table string, line []byte) {
	t.Helper()
	d := &rowDecoder{}
	got, gotErr := d.row(line)
	var r snapshotRow
	want := tables[tableIndex[table]].newRow()
	wantErr := json.Unmarshal(line, &r)
	if wantErr == nil {
		wantErr = json.Unmarshal(r.Row, want)
	}
	switch {
	case (gotErr == nil) != (wantErr == nil):
		t.Fatalf("%s: the snapshot decoder says %v, encoding/json %v", line, gotErr, wantErr)
	case gotErr == nil && (got.table != table || !reflect.DeepEqual(got.row, want)):
		t.Fatalf("%s: decoded to\n%#v\nencoding/json decodes it to\n%#v", line, got.row, want)
	}
}
