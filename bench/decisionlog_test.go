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

// TestGroupByCache: -together loads the setups of one cache setting at
// once, and never a setup of the other setting with them.
func TestGroupByCache(t *testing.T) {
	setups := []logSetup{{"off", "", true}, {"file", "f", true}, {"http", "h", true}, {"off", "", false}, {"file", "f", false}, {"http", "h", false}}
	got := groupByCache(setups)
	if len(got) != 2 || len(got[0]) != 3 || len(got[1]) != 3 {
		t.Fatalf("groups %v, want two of three", got)
	}
	for _, g := range got {
		for _, i := range g {
			if setups[i].cache != setups[g[0]].cache {
				t.Errorf("group %v mixes cache settings", g)
			}
		}
	}
	if got := groupByCache(setups[3:]); len(got) != 1 || len(got[0]) != 3 || got[0][0] != 0 {
		t.Errorf("one setting: %v", got)
	}
}
