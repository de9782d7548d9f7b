package decisionlog

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// lines are n distinct events, each with its newline.
func lines(from, n int) []byte {
	var b []byte
	for i := from; i < from+n; i++ {
		b = fmt.Appendf(b, `{"event":%d,"pad":"%0700d"}`+"\n", i, i)
	}
	return b
}

// TestFileSinkGoesOnAfterTheFile: a sink opened on a file that holds
// events (a restart) writes after them, directly or through the page
// cache, and a rotation starts the next file empty.
func TestFileSinkGoesOnAfterTheFile(t *testing.T) {
	for _, direct := range []bool{true, false} {
		t.Run(fmt.Sprintf("direct=%v", direct), func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "d.jsonl")
			before := lines(0, 7) // 5,000-odd bytes: a block and a part
			if err := os.WriteFile(path, before, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := newFileSink(path, 3<<20, 2, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !direct {
				_ = s.direct.Close()
				s.direct = nil
			}
			want := before
			for batch := range 60 { // 2.6 MiB: within the file
				b := lines(100+batch*60, 60)
				want = append(want, b...)
				if err := s.writeLines(ctx, b, 60); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.flush(ctx); err != nil {
				t.Fatal(err)
			}
			fileHolds(t, path, want)
			// Past the size of rotation: the rest goes to a new file.
			next := lines(10000, 1000)
			if err := s.writeLines(ctx, next, 1000); err != nil {
				t.Fatal(err)
			}
			if err := s.close(ctx); err != nil {
				t.Fatal(err)
			}
			old, err := os.ReadFile(path + ".1")
			if err != nil {
				t.Fatal(err)
			}
			cur, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(old)) > 3<<20 || !bytes.HasPrefix(old, want) || !bytes.Equal(append(old[len(want):], cur...), next) || len(cur) == 0 {
				t.Fatalf("after rotation: %s holds %d bytes, %s %d; want the %d bytes before it, then %d bytes split between them",
					path+".1", len(old), path, len(cur), len(want), len(next))
			}
		})
	}
}

// fileHolds fails t unless the file at path holds exactly want.
func fileHolds(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%s holds %d bytes, want %d; they differ from byte %d", path, len(got), len(want), i)
	}
}
