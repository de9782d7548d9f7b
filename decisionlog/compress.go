package decisionlog

import (
	"bytes"
	"io"

	"github.com/klauspost/compress/gzip"
)

// gzipper compresses one batch of the HTTP sink into one gzip member,
// valid until its next call.
type gzipper interface {
	gzip(src []byte) ([]byte, error)
}

// Compressor names the gzip implementation the HTTP sink compresses its
// batches with: klauspost's pure-Go DEFLATE at its fastest level, or, in
// a build with the isal tag, Intel's ISA-L igzip at its level 1 (cgo;
// docs/decisions.md, "The decision log's gzip"). Both write gzip that any
// reader inflates; ISA-L takes less than half the CPU on decision-log
// events.
var Compressor = CompressorGo

// The names Compressor takes.
const (
	CompressorGo   = "klauspost/compress (pure Go)"
	CompressorISAL = "ISA-L igzip (cgo)"
)

// newGzipper makes the HTTP sink's compressor. A build with the isal tag
// replaces it (compress_isal.go).
var newGzipper = func() gzipper {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return &goGzipper{w: w}
}

// goGzipper is klauspost's gzip writer, reset for each batch.
type goGzipper struct {
	w   *gzip.Writer
	out bytes.Buffer
}

func (g *goGzipper) gzip(src []byte) ([]byte, error) {
	g.out.Reset()
	g.w.Reset(&g.out)
	if _, err := g.w.Write(src); err != nil {
		return nil, err
	}
	if err := g.w.Close(); err != nil {
		return nil, err
	}
	return g.out.Bytes(), nil
}
