package grantdv1_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedCodeIsFresh regenerates the API with the pinned local plugins
// into a temporary directory and fails on any difference from the committed
// files, in either direction.
func TestGeneratedCodeIsFresh(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.Command("go", "tool", "-modfile=tools/go.mod", "buf", "generate", "-o", out)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("buf generate: %v\n%s", err, b)
	}
	fresh := generatedFiles(t, filepath.Join(out, "proto", "grantd", "v1"))
	committed := generatedFiles(t, ".")
	if len(fresh) == 0 {
		t.Fatal("generation produced no files")
	}
	for name, want := range fresh {
		got, ok := committed[name]
		switch {
		case !ok:
			t.Errorf("%s is generated but not committed; run make generate", name)
		case !bytes.Equal(got, want):
			t.Errorf("%s differs from a fresh generation; run make generate", name)
		}
	}
	for name := range committed {
		if _, ok := fresh[name]; !ok {
			t.Errorf("%s is committed but no longer generated; delete it", name)
		}
	}
}

func generatedFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		n := e.Name()
		if strings.HasSuffix(n, ".pb.go") || strings.HasSuffix(n, ".pb.gw.go") || strings.HasSuffix(n, ".swagger.json") {
			b, err := os.ReadFile(filepath.Join(dir, n))
			if err != nil {
				t.Fatal(err)
			}
			files[n] = b
		}
	}
	return files
}
