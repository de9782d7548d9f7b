package store

import (
	"slices"
	"strconv"
	"testing"
)

// chunks hands back what was added, in order, whatever the count: across
// the first chunks' boundaries and past the largest chunk's.
func TestChunks(t *testing.T) {
	for _, n := range []int{0, 1, minChunk - 1, minChunk, minChunk + 1, 100, maxChunk, 3*maxChunk + 5} {
		var c chunks[int]
		var want []int
		for i := range n {
			c.add(i * 7)
			want = append(want, i*7)
		}
		if c.len() != n {
			t.Errorf("%d values: len %d", n, c.len())
		}
		var got []int
		for i, v := range c.all() {
			if i != len(got) {
				t.Fatalf("%d values: index %d at position %d", n, i, len(got))
			}
			got = append(got, v)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%d values: all gave %d values, not the ones added", n, len(got))
		}
		if s := c.slice(); !slices.Equal(s, want) || cap(s) != n {
			t.Errorf("%d values: slice has %d (cap %d), not the ones added", n, len(s), cap(s))
		}
		for _, chunk := range c.full {
			if len(chunk) > maxChunk {
				t.Errorf("%d values: a chunk of %d", n, len(chunk))
			}
		}
		from := chunksOf(want)
		from.add(-1)
		if s := from.slice(); !slices.Equal(s, append(slices.Clone(want), -1)) {
			t.Errorf("%d values: chunksOf, then add: %v", n, s)
		}
		if n > 0 && want[0] != 0 {
			t.Errorf("chunksOf changed the slice it was given")
		}
	}
}

// The rows of a restore are checked for order across the chunks they are
// kept in: a key out of order, or repeated, where one chunk ends and the
// next begins is found.
func TestStrictlySortedAcrossChunks(t *testing.T) {
	rows := func(keys ...int) *chunks[sortedEntry] {
		c := &chunks[sortedEntry]{}
		for _, k := range keys {
			c.add(sortedEntry{key: strconv.Itoa(100000 + k)})
		}
		return c
	}
	var in []int
	for i := range 3 * minChunk {
		in = append(in, i)
	}
	if !strictlySorted(rows(in...)) {
		t.Errorf("rows in order: reported out of order")
	}
	if !strictlySorted(rows()) {
		t.Errorf("no rows: reported out of order")
	}
	repeated := slices.Clone(in)
	repeated[minChunk] = repeated[minChunk-1] // the first of the second chunk
	if strictlySorted(rows(repeated...)) {
		t.Errorf("a key repeated across a chunk boundary: not found")
	}
	swapped := slices.Clone(in)
	swapped[minChunk-1], swapped[minChunk] = swapped[minChunk], swapped[minChunk-1]
	if strictlySorted(rows(swapped...)) {
		t.Errorf("two keys swapped across a chunk boundary: not found")
	}
}
