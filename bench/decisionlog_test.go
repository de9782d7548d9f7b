package main

import "testing"

// TestMedianCI checks the order statistics the interval takes, from the
// binomial tables: n = 6 → 1st and 6th, n = 10 → 2nd and 9th, n = 20 →
// 6th and 15th; under six samples there is no 95 % interval.
func TestMedianCI(t *testing.T) {
	for _, c := range []struct{ n, k int }{{5, 0}, {6, 1}, {10, 2}, {16, 4}, {20, 6}} {
		xs := make([]float64, c.n)
		for i := range xs {
			xs[i] = float64((i*7)%c.n + 1) // 1..n, shuffled
		}
		lo, hi, ok := medianCI(xs)
		if c.k == 0 {
			if ok {
				t.Errorf("n=%d: interval [%v, %v], want none", c.n, lo, hi)
			}
			continue
		}
		if !ok || lo != float64(c.k) || hi != float64(c.n+1-c.k) {
			t.Errorf("n=%d: [%v, %v] %v, want [%d, %d]", c.n, lo, hi, ok, c.k, c.n+1-c.k)
		}
	}
}
