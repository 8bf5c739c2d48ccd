package search

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// maxNorm caps a normalised string in the index (and a search value
// compared with it): index keys must stay small, and a prefix this long
// identifies a value well enough.
const maxNorm = 256

// maxKey caps the other strings kept in index keys (codes, systems,
// references, uris).
const maxKey = 1000

// Normalize returns s as string search compares it: lower case, without
// accents or other combining marks, and runs of white space as one space,
// cut to maxNorm bytes at a character boundary.
func Normalize(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	write := func(r rune) {
		if unicode.IsSpace(r) {
			if !space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = true
			return
		}
		space = false
		b.WriteRune(unicode.ToLower(r))
	}
	if ascii {
		for i := 0; i < len(s); i++ {
			write(rune(s[i]))
		}
	} else {
		for _, r := range norm.NFD.String(s) {
			if unicode.Is(unicode.Mn, r) {
				continue
			}
			write(r)
		}
	}
	return cut(strings.TrimRight(b.String(), " "), maxNorm)
}

// cut shortens s to at most n bytes without splitting a character.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
