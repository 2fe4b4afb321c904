package policy

import (
	"strings"
	"unicode/utf8"
)

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
		// Let the last star absorb one more character and retry; when a
		// literal follows the star, skip straight to its next occurrence
		// (a byte that is not a UTF-8 continuation byte always starts a
		// character, so no character boundary is skipped).
		starI += runeLen(s[starI:])
		if starP+1 < len(pattern) {
			if c := pattern[starP+1]; c != '*' && c != '?' && (c < 0x80 || c >= 0xC0) {
				k := strings.IndexByte(s[starI:], c)
				if k < 0 {
					return false
				}
				starI += k
			}
		}
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

// glob is a pattern prepared for matching many strings: its literal prefix
// and suffix reject most strings that do not match with two memory
// compares, before matchGlob walks what lies between. It matches exactly
// what matchGlob(pattern, s) matches.
type glob struct {
	pattern string
	prefix  string // the literal run before the first wildcard
	suffix  string // the literal run after the last wildcard
	exact   bool   // no wildcard at all
}

func newGlob(pattern string) glob {
	first := strings.IndexAny(pattern, "*?")
	if first < 0 {
		return glob{pattern: pattern, prefix: pattern, exact: true}
	}
	last := strings.LastIndexAny(pattern, "*?")
	return glob{pattern: pattern, prefix: pattern[:first], suffix: pattern[last+1:]}
}

func (g *glob) match(s string) bool {
	if g.exact {
		return s == g.pattern
	}
	if !strings.HasPrefix(s, g.prefix) || !strings.HasSuffix(s, g.suffix) {
		return false
	}
	// The prefix is literal, so the walk resumes after it in both strings.
	return matchGlob(g.pattern[len(g.prefix):], s[len(g.prefix):])
}

// globs is a list of prepared patterns.
type globs []glob

func newGlobs(patterns []string) globs {
	if len(patterns) == 0 {
		return nil
	}
	l := make(globs, len(patterns))
	for i, p := range patterns {
		l[i] = newGlob(p)
	}
	return l
}

// match reports whether s matches at least one of the patterns.
func (l globs) match(s string) bool {
	for i := range l {
		if l[i].match(s) {
			return true
		}
	}
	return false
}
