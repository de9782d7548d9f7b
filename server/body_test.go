package server

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readBody reads what io.ReadAll reads, through every buffer growth and
// in reads of any size, and passes a read's error on with what came
// before it.
func TestReadBody(t *testing.T) {
	for _, n := range []int{0, 1, 300, 1023, 1024, 1025, 5000, maxPooledBody + 1} {
		want := []byte(strings.Repeat("0123456789", n/10+1)[:n])
		for _, r := range []io.Reader{bytes.NewReader(want), iotest.OneByteReader(bytes.NewReader(want)), iotest.HalfReader(bytes.NewReader(want))} {
			got, buf, err := readBody(r)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%d bytes: read %d, %v", n, len(got), err)
			}
			putBody(buf)
		}
	}
	boom := errors.New("boom")
	got, buf, err := readBody(io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(boom)))
	if string(got) != "abc" || !errors.Is(err, boom) {
		t.Errorf("read %q, %v", got, err)
	}
	putBody(buf)
}
