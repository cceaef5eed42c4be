package daemon

import "strings"

// nearest returns the candidate an operator most likely meant by name, or "" when none is
// close: the one candidate name is a prefix of ("back" for backfill), else the closest by
// edit distance, if at most two edits away and closer than name is long (so "xy" suggests
// nothing rather than any two-letter neighbour).
func nearest(name string, candidates []string) string {
	if name == "" {
		return ""
	}
	var prefixed []string
	for _, c := range candidates {
		if strings.HasPrefix(c, name) && c != name {
			prefixed = append(prefixed, c)
		}
	}
	if len(prefixed) == 1 && len(name) >= 2 {
		return prefixed[0]
	}
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := editDistance(name, c); d > 0 && d < bestDist && d < len(name) {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b: insertions,
// deletions, substitutions and transpositions of neighbours each cost one, because a swapped
// pair ("stauts") is the commonest slip of a typist and should count as one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// d[i][j] is the distance between ra[:i] and rb[:j]; three rows are all it needs.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
