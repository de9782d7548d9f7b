package store

import "iter"

// chunks collects values whose number is not known in advance, as a
// restore reads a snapshot's rows, without copying them as they come.
// append copies a large slice each time it grows it by a quarter: over a
// table of enterprise-large's, it allocates some five times the slice's
// final size, all of it memory the process touches for the first time
// at start-up (a page fault each page), and most of it garbage at once.
// A chunk is never copied; each new one is as long as every value so
// far, up to maxChunk, so small tables stay small.
type chunks[T any] struct {
	full [][]T
	last []T
	n    int
}

const (
	minChunk = 16
	maxChunk = 8192
)

func (c *chunks[T]) add(v T) {
	if len(c.last) == cap(c.last) {
		if c.last != nil {
			c.full = append(c.full, c.last)
		}
		c.last = make([]T, 0, min(max(c.n, minChunk), maxChunk))
	}
	c.last = append(c.last, v)
	c.n++
}

// len is how many values were added.
func (c *chunks[T]) len() int { return c.n }

// all iterates the values in the order they were added.
func (c *chunks[T]) all() iter.Seq2[int, T] {
	return func(yield func(int, T) bool) {
		i := 0
		for _, chunk := range c.full {
			for _, v := range chunk {
				if !yield(i, v) {
					return
				}
				i++
			}
		}
		for _, v := range c.last {
			if !yield(i, v) {
				return
			}
			i++
		}
	}
}

// slice is the values in one slice of exactly their number.
func (c *chunks[T]) slice() []T {
	out := make([]T, 0, c.n)
	for _, chunk := range c.full {
		out = append(out, chunk...)
	}
	return append(out, c.last...)
}

// chunksOf is a chunks holding the values of s, without copying them.
func chunksOf[T any](s []T) chunks[T] { return chunks[T]{last: s[:len(s):len(s)], n: len(s)} }
