package decisionlog

import (
	"bytes"
	"compress/gzip"
	"io"
	"math/rand/v2"
	"testing"
)

// The sink's compressor, whichever the build has (go test, and go test
// -tags isal in make test), writes one gzip member that the standard
// library inflates back to the batch, for a batch of events, for bytes
// that do not compress (where DEFLATE falls back to stored blocks) and
// for one byte; and it can be used again.
func TestGzipperRoundTrip(t *testing.T) {
	t.Log(Compressor)
	recs := benchRecords(3000)
	enc := newEncoder(map[string]string{"app": "grantd"}, mask{})
	var events []byte
	for i := range recs {
		events = enc.appendEvent(append(events, ','), &recs[i])
	}
	random := make([]byte, 3<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	gz := newGzipper()
	for _, tc := range []struct {
		name string
		in   []byte
	}{{"events", events}, {"random", random}, {"one byte", []byte("[")}, {"events again", events[:len(events)/3]}} {
		out, err := gz.gzip(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		r := bytes.NewReader(out)
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatalf("%s: not gzip: %v", tc.name, err)
		}
		zr.Multistream(false)
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: inflate: %v", tc.name, err)
		}
		if !bytes.Equal(got, tc.in) {
			t.Fatalf("%s: inflated %d bytes, not the %d compressed", tc.name, len(got), len(tc.in))
		}
		if r.Len() != 0 {
			t.Fatalf("%s: %d bytes after the gzip member", tc.name, r.Len())
		}
		if tc.name == "events" && len(out) > len(tc.in)/5 {
			t.Errorf("events: %d bytes compressed to %d; decision-log events compress about tenfold", len(tc.in), len(out))
		}
	}
}
