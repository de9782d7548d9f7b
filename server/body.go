package server

import (
	"io"
	"sync"
)

// Request bodies of the decision routes (REST's authorize, the Kubernetes
// webhooks) are read into pooled buffers, and the authorization webhook's
// answers written into them: they are a few hundred bytes, and a buffer
// per request was a tenth of the garbage such a request leaves, which the
// collector pays for by marking the whole state again (docs/performance.md).
var bodyBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

// maxPooledBody is the largest buffer kept for reuse.
const maxPooledBody = 64 << 10

// readBody reads all of r into a pooled buffer. The caller hands the
// buffer back with putBody once nothing refers to its bytes: the decoders
// of these routes copy every string they keep.
func readBody(r io.Reader) ([]byte, *[]byte, error) {
	p := bodyBuffers.Get().(*[]byte)
	b := (*p)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			*p = b
			if err == io.EOF {
				err = nil
			}
			return b, p, err
		}
	}
}

// putBody returns a buffer of readBody, or one an answer was written
// into (the webhook's), to the pool.
func putBody(p *[]byte) {
	if cap(*p) <= maxPooledBody {
		bodyBuffers.Put(p)
	}
}
