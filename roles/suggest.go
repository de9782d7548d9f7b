package roles

import (
	"fmt"
	"strings"
)

// Closest returns the candidate nearest to a mistyped role or operation
// ID, for a "did you mean" hint, or "" when none is near enough: at most
// a third of the word's length apart (at least two edits), letter case
// ignored. Ties go to the earlier candidate.
func Closest(word string, candidates []string) string {
	w := strings.ToLower(word)
	best, bestDist := "", max(2, len(w)/3)+1
	for _, c := range candidates {
		if d := editDistance(w, strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// SuggestOperation is the catalog operation nearest to a mistyped one.
func SuggestOperation(id string) string {
	ids := make([]string, len(catalog))
	for i, op := range catalog {
		ids[i] = op.ID
	}
	return Closest(id, ids)
}

// ByDisplayName finds the built-in role whose display name is name
// ("View Only" → viewonly), letter case and spaces ignored: people type
// the names the README and the UI show.
func ByDisplayName(name string) (Role, bool) {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, " ", "")) }
	for _, r := range builtins {
		if norm(r.DisplayName) == norm(name) {
			return r.Clone(), true
		}
	}
	return Role{}, false
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// UnknownOperation says that id is not in the catalog, with the nearest
// operation when one is near.
func UnknownOperation(id string) string {
	msg := fmt.Sprintf("unknown operation %q", id)
	if s := SuggestOperation(id); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg
}
