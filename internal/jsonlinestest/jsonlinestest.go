// Package jsonlinestest reads JSON-lines files in tests (the decision log's
// file sink writes them).
package jsonlinestest

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"
)

// Read returns every line of the file at path as a JSON object, failing
// the test on a line that is not one, or on a read that stops short.
func Read(t testing.TB, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("%s: %v: %s", path, err, sc.Text())
		}
		out = append(out, ev)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}
