package decisionlog

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestFileSinkWritesAroundThePageCache: on a file system that takes
// direct writes (the test's: ext4 on the CI machine), what the sink
// wrote is in the file but not in the page cache, but for the partial
// block a flush wrote through it; and the file holds every event, once,
// in order, after each flush.
func TestFileSinkWritesAroundThePageCache(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "d.jsonl")
	var written atomic.Uint64
	s, err := newFileSink(path, 1<<30, 2, &written)
	if err != nil {
		t.Fatal(err)
	}
	if s.direct == nil {
		t.Fatalf("the file sink writes %s through the page cache: the test needs TMPDIR on a file system that takes direct I/O and says so through statx (ext4, XFS, Btrfs; tmpfs from Linux 6.6)", path)
	}
	var want []byte
	for batch := range 200 { // about 8.7 MiB: two chunks and a part
		b := lines(batch*60, 60)
		want = append(want, b...)
		if err := s.writeLines(ctx, b, 60); err != nil {
			t.Fatal(err)
		}
		if batch%70 == 69 {
			if err := s.flush(ctx); err != nil {
				t.Fatal(err)
			}
			// Read nothing yet: reading fills the page cache.
			if st, err := os.Stat(path); err != nil || st.Size() != int64(len(want)) {
				t.Fatalf("after a flush: %v, %v; want %d bytes", st.Size(), err, len(want))
			}
		}
	}
	if err := s.flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := written.Load(); got != 200*60 {
		t.Fatalf("%d events counted written, want %d", got, 200*60)
	}
	// Only the page of the partial block, which the flush wrote through
	// the cache, may be resident.
	if pages := resident(t, path, int64(len(want))&^(blockSize-1)); pages > 0 {
		t.Fatalf("%d pages of what the sink wrote in whole blocks are in the page cache", pages)
	}
	fileHolds(t, path, want)
	if err := s.close(ctx); err != nil {
		t.Fatal(err)
	}
	fileHolds(t, path, want)
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
