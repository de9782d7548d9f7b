package decisionlog

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestFileSinkReleasesWhatItWrote: the file sink hands the pages of what
// it wrote back to the kernel as it goes, a chunk at a time, and the file
// still holds every event.
func TestFileSinkReleasesWhatItWrote(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "d.jsonl")
	var written atomic.Uint64
	s, err := newFileSink(path, 1<<30, 2, &written)
	if err != nil {
		t.Fatal(err)
	}
	event := bytes.Repeat([]byte("x"), 999)
	const n = 5 * releaseChunk / 1000
	for range n {
		if err := s.write(ctx, event); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.flush(ctx); err != nil {
		t.Fatal(err)
	}
	if s.released < s.size-releaseChunk || s.prior < s.released-releaseChunk-int64(len(event)+1) || s.prior >= s.released {
		t.Fatalf("after %d bytes, released up to %d (on disk up to %d); want within two chunks of the end", s.size, s.released, s.prior)
	}
	// All but the page that straddles the end.
	if pages := resident(t, path, s.prior); pages > 1 {
		t.Fatalf("%d pages of the file's first %d bytes, released, are still in the page cache", pages, s.prior)
	}
	if err := s.close(ctx); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if lines := bytes.Count(data, []byte("x\n")); lines != n || len(data) != n*1000 {
		t.Fatalf("the file holds %d bytes and %d events, want %d and %d", len(data), lines, n*1000, n)
	}
}

// resident is how many of the pages of path's first n bytes are in the
// page cache (mincore(2)).
func resident(t *testing.T, path string, n int64) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, int(n), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Munmap(m) }()
	pages := (len(m) + os.Getpagesize() - 1) / os.Getpagesize()
	vec := make([]byte, pages)
	// x/sys/unix has no wrapper for mincore(2) on Linux.
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	in := 0
	for _, v := range vec {
		in += int(v & 1)
	}
	return in
}
