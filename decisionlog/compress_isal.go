//go:build isal && cgo

package decisionlog

/*
#cgo LDFLAGS: -lisal
#include <isa-l/igzip_lib.h>

// grantd_isal_gzip compresses in[0:n] into out[0:cap] as one gzip member,
// at ISA-L's level 1 with level_buf (level_n bytes) as its working memory.
// It returns the member's size, -1 when out is too small, -2 when ISA-L
// reports an error. Nothing is kept after it returns.
static long grantd_isal_gzip(unsigned char *in, unsigned int n, unsigned char *out, unsigned int cap,
		unsigned char *level_buf, unsigned int level_n) {
	struct isal_zstream s;
	isal_deflate_init(&s);
	s.level = 1;
	s.level_buf = level_buf;
	s.level_buf_size = level_n;
	s.gzip_flag = IGZIP_GZIP;
	s.end_of_stream = 1;
	s.flush = NO_FLUSH;
	s.next_in = in;
	s.avail_in = n;
	s.next_out = out;
	s.avail_out = cap;
	if (isal_deflate(&s) != COMP_OK) {
		return -2;
	}
	if (s.avail_in != 0 || s.internal_state.state != ZSTATE_END) {
		return -1;
	}
	return (long)s.total_out;
}
*/
import "C"

import (
	"errors"
	"math"
	"unsafe"
)

func init() {
	Compressor = CompressorISAL
	newGzipper = func() gzipper { return &isalGzipper{level: make([]byte, C.ISAL_DEF_LVL1_DEFAULT)} }
}

// isalGzipper compresses with ISA-L's igzip in one call per batch. The
// memory it passes (the batch, the output, the level buffer) is Go's,
// holds no pointers, and is not kept by ISA-L past the call.
type isalGzipper struct {
	level, out []byte
}

func (g *isalGzipper) gzip(src []byte) ([]byte, error) {
	if len(src) == 0 || len(src) > math.MaxUint32/4 {
		return nil, errors.New("decision log: batch size out of range for ISA-L")
	}
	// Stored blocks bound what DEFLATE writes for any input: 5 bytes per
	// block of at most 65,535 bytes, and the gzip header and trailer. The
	// loop is there should ISA-L ever need more.
	for room := len(src) + len(src)/1024 + 1024; ; room *= 2 {
		if cap(g.out) < room {
			g.out = make([]byte, room)
		}
		out := g.out[:room]
		n := C.grantd_isal_gzip((*C.uchar)(unsafe.Pointer(&src[0])), C.uint(len(src)),
			(*C.uchar)(unsafe.Pointer(&out[0])), C.uint(room),
			(*C.uchar)(unsafe.Pointer(&g.level[0])), C.uint(len(g.level)))
		switch {
		case n >= 0:
			return out[:n], nil
		case n == -2 || room > 2*len(src)+(1<<20):
			return nil, errors.New("decision log: ISA-L could not compress a batch")
		}
	}
}
