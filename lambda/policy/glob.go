package policy

import "unicode/utf8"

// matchGlob reports whether s matches the IAM-style pattern: '*' matches any
// run of characters (including '/' and ':'), '?' exactly one character, and
// everything else itself. Matching is case-sensitive and anchored at both
// ends. It works on bytes for ASCII and on runes otherwise, never allocates,
// and runs in O(len(pattern)*len(s)) at worst (single-star backtracking).
//
// path.Match and filepath.Match treat '/' specially and support classes, so
// they do not give IAM semantics; this is the classic greedy wildcard matcher.
func matchGlob(pattern, s string) bool {
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(pattern) {
			switch c := pattern[p]; {
			case c == '*':
				starP, starI = p, i
				p++
				continue
			case c == '?':
				p++
				i += runeLen(s[i:])
				continue
			case c == s[i]:
				p++
				i++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last star absorb one more character and retry.
		starI += runeLen(s[starI:])
		p, i = starP+1, starI
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// runeLen returns the length of the first character of s: 1 for ASCII and
// for every byte that does not start a valid UTF-8 sequence (as Go's
// strings and regexp count them), so '?' matches one character, not one
// byte, and '*' never skips a byte that a literal could match.
func runeLen(s string) int {
	if s[0] < utf8.RuneSelf {
		return 1
	}
	_, n := utf8.DecodeRuneInString(s)
	return n
}

// matchAny reports whether s matches at least one of the patterns.
func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if matchGlob(p, s) {
			return true
		}
	}
	return false
}

// globCovers reports whether every string matched by inner is also matched by
// outer. It is sound but not complete: a true answer is always right, a false
// one may miss an exotic containment. Used only for shadowing warnings.
func globCovers(outer, inner string) bool {
	// Walk outer over inner's tokens: outer's '*' may absorb any run of
	// inner's tokens (stars included), outer's '?' one literal character or
	// '?', and an outer literal only the same literal. Tokens are characters,
	// not bytes: a '?' of outer must not count the bytes of one character of
	// inner as several.
	var rec func(o, i int) bool
	memo := map[[2]int]bool{}
	rec = func(o, i int) bool {
		key := [2]int{o, i}
		if v, ok := memo[key]; ok {
			return v
		}
		var r bool
		switch {
		case o == len(outer):
			r = i == len(inner)
		case outer[o] == '*':
			r = rec(o+1, i) || (i < len(inner) && rec(o, i+runeLen(inner[i:])))
		case i == len(inner):
			r = false
		case outer[o] == '?':
			r = inner[i] != '*' && rec(o+1, i+runeLen(inner[i:]))
		default:
			r = inner[i] != '*' && inner[i] != '?' && outer[o] == inner[i] && rec(o+1, i+1)
		}
		memo[key] = r
		return r
	}
	return rec(0, 0)
}

// globsCover reports whether the union of outer covers every pattern of inner.
func globsCover(outer, inner []string) bool {
	for _, in := range inner {
		covered := false
		for _, out := range outer {
			if globCovers(out, in) {
				covered = true
				break
			}
		}
		if !covered {
			return false
		}
	}
	return true
}
