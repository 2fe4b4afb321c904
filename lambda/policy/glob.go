package policy

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
				_, n := decodeRune(s[i:])
				p++
				i += n
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
		_, n := decodeRune(s[starI:])
		starI += n
		p, i = starP+1, starI
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// decodeRune returns the length of the first UTF-8 sequence of s (1 for
// ASCII and for invalid bytes), so '?' matches one character, not one byte.
func decodeRune(s string) (rune, int) {
	c := s[0]
	switch {
	case c < 0x80:
		return rune(c), 1
	case c&0xE0 == 0xC0 && len(s) >= 2:
		return 0, 2
	case c&0xF0 == 0xE0 && len(s) >= 3:
		return 0, 3
	case c&0xF8 == 0xF0 && len(s) >= 4:
		return 0, 4
	}
	return rune(c), 1
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
	// inner's tokens (stars included), outer's '?' one literal or '?', and an
	// outer literal only the same literal.
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
			r = rec(o+1, i) || (i < len(inner) && rec(o, i+1))
		case i == len(inner):
			r = false
		case outer[o] == '?':
			r = inner[i] != '*' && rec(o+1, i+1)
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
