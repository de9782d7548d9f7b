package decisionlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// fileSink writes JSON lines to a file, rotated when it would grow past
// max bytes: path becomes path.1, path.1 path.2, and so on up to keep
// files; the oldest is removed.
//
// Lines gather in a chunk buffer and reach the file a chunk at a time, and
// at every flush. Where the file system can (openDirect), whole blocks are
// written around the page cache: a buffered write spends most of its time
// taking fresh page-cache pages and accounting for them, four to seven
// times what the same bytes cost written directly, and a busy log would
// push what the machine's other programs cached out of memory. At a flush
// the last, partial block goes through the page cache, and directly again
// with the chunk that completes it. Where the file system cannot, the
// chunk is written through the page cache.
type fileSink struct {
	path    string
	max     int64
	keep    int
	written *atomic.Uint64
	// pending counts the events taken since the last flush.
	pending uint64

	f *os.File
	// direct writes f's file around the page cache; nil when the file
	// system cannot.
	direct *os.File
	// chunk[:n] are the file's bytes from offset base (a multiple of
	// blockSize); chunk[:inFile] of them are in the file already.
	chunk     []byte
	base      int64
	n, inFile int
}

// blockSize aligns direct writes: their offsets, lengths and memory. (A
// file system that needs a coarser alignment gets buffered writes:
// openDirect.)
const blockSize = 4096

// chunkSize is how much the file sink gathers before it writes. Direct
// writes cost little per byte once they are this large; a 64-KiB write
// cost as much as a buffered one.
const chunkSize = 4 << 20

var newline = []byte{'\n'}

func newFileSink(path string, max int64, keep int, written *atomic.Uint64) (*fileSink, error) {
	s := &fileSink{path: path, max: max, keep: keep, written: written, chunk: alignedChunk()}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

// alignedChunk is a chunk buffer whose first byte is block-aligned in
// memory, as direct writes need.
func alignedChunk() []byte {
	b := make([]byte, chunkSize+blockSize)
	off := int(-uintptr(unsafe.Pointer(&b[0])) & (blockSize - 1))
	return b[off : off+chunkSize : off+chunkSize]
}

// open opens the file at path, creating it, and goes on after what it
// holds: its last partial block is read back into the chunk, to be
// written again whole.
func (s *fileSink) open() error {
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("decision log file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("decision log file: %w", err)
	}
	size := st.Size()
	s.f, s.direct = f, openDirect(f)
	s.base, s.n = size&^(blockSize-1), int(size%blockSize)
	s.inFile = s.n
	if _, err := io.ReadFull(io.NewSectionReader(f, s.base, int64(s.n)), s.chunk[:s.n]); err != nil {
		_ = s.closeFiles()
		return fmt.Errorf("decision log file: %w", err)
	}
	return nil
}

func (s *fileSink) size() int64 { return s.base + int64(s.n) }

func (s *fileSink) write(ctx context.Context, event []byte) error {
	if n := int64(len(event) + 1); s.size() > 0 && s.size()+n > s.max {
		if err := s.rotate(ctx); err != nil {
			return err
		}
	}
	s.pending++
	if err := s.put(event); err != nil {
		return err
	}
	return s.put(newline)
}

// writeLines takes the batch at once when it fits in the file, and event
// by event, rotating between them, when it does not.
func (s *fileSink) writeLines(ctx context.Context, lines []byte, n int) error {
	if s.size()+int64(len(lines)) > s.max {
		return eachEvent(lines, func(event []byte) error { return s.write(ctx, event) })
	}
	s.pending += uint64(n)
	return s.put(lines)
}

// put adds p to the chunk, writing the chunk out each time it fills.
func (s *fileSink) put(p []byte) error {
	for len(p) > 0 {
		k := copy(s.chunk[s.n:], p)
		s.n += k
		p = p[k:]
		if s.n == len(s.chunk) {
			if err := s.writeOut(s.n); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeOut writes the chunk's first m bytes (whole blocks when writing
// directly) at base, and keeps the rest for later. When a write fails,
// what the chunk held beyond what the file has is dropped: the events
// since the last flush are lost, and the failure is the caller's to
// report.
func (s *fileSink) writeOut(m int) error {
	w := s.f
	if s.direct != nil {
		w = s.direct
	}
	_, err := w.WriteAt(s.chunk[:m], s.base)
	if err != nil && s.direct != nil && errors.Is(err, syscall.EINVAL) {
		// The file system refused the direct write after all: the page
		// cache from now on.
		_ = s.direct.Close()
		s.direct = nil
		return s.writeOut(m)
	}
	if err != nil {
		s.n, s.pending = s.inFile, 0
		return fmt.Errorf("decision log file: %w", err)
	}
	s.n = copy(s.chunk, s.chunk[m:s.n])
	s.base += int64(m)
	s.inFile = max(s.inFile-m, 0)
	return nil
}

// flush puts everything taken into the file: whole blocks directly, and
// the partial block that is left through the page cache (it stays in the
// chunk, to be written directly once whole).
func (s *fileSink) flush(context.Context) error {
	if s.direct == nil {
		if s.n > 0 {
			if err := s.writeOut(s.n); err != nil {
				return err
			}
		}
	} else {
		if whole := s.n &^ (blockSize - 1); whole > 0 {
			if err := s.writeOut(whole); err != nil {
				return err
			}
		}
		if s.n > s.inFile {
			if _, err := s.f.WriteAt(s.chunk[s.inFile:s.n], s.base+int64(s.inFile)); err != nil {
				s.n, s.pending = s.inFile, 0
				return fmt.Errorf("decision log file: %w", err)
			}
			s.inFile = s.n
		}
	}
	if s.written != nil {
		s.written.Add(s.pending)
	}
	s.pending = 0
	return nil
}

func (s *fileSink) rotate(ctx context.Context) error {
	if err := s.flush(ctx); err != nil {
		return err
	}
	if err := s.closeFiles(); err != nil {
		return fmt.Errorf("decision log file: %w", err)
	}
	_ = os.Remove(fmt.Sprintf("%s.%d", s.path, s.keep))
	for i := s.keep - 1; i >= 1; i-- {
		_ = os.Rename(fmt.Sprintf("%s.%d", s.path, i), fmt.Sprintf("%s.%d", s.path, i+1))
	}
	if err := os.Rename(s.path, s.path+".1"); err != nil {
		return fmt.Errorf("decision log file: %w", err)
	}
	return s.open()
}

func (s *fileSink) closeFiles() error {
	var err error
	if s.direct != nil {
		err = s.direct.Close()
		s.direct = nil
	}
	return errors.Join(err, s.f.Close())
}

func (s *fileSink) close(ctx context.Context) error {
	return errors.Join(s.flush(ctx), s.closeFiles())
}
