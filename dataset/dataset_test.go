package dataset

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestGenerateIsDeterministicAndShaped(t *testing.T) {
	a, b := Generate(Small, 42), Generate(Small, 42)
	ja, _ := json.Marshal(a.Batches)
	jb, _ := json.Marshal(b.Batches)
	if string(ja) != string(jb) {
		t.Fatal("the same seed gave two datasets")
	}
	if c := Generate(Small, 43); reflect.DeepEqual(c.Users, a.Users) && string(mustJSON(c.Batches)) == string(ja) {
		t.Fatal("another seed gave the same dataset")
	}
	n := 0
	for _, batch := range a.Batches {
		n += len(batch)
	}
	if len(a.Users) != Small.Users || len(a.paths) != Small.Collections+2 || n < Small.Grants+Small.Users+Small.Collections {
		t.Fatalf("shape: %d users, %d collections, %d commands", len(a.Users), len(a.paths), n)
	}
	qs := a.Queries(100, 1)
	if len(qs) != 100 || !reflect.DeepEqual(qs, a.Queries(100, 1)) {
		t.Fatal("queries are not deterministic")
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
