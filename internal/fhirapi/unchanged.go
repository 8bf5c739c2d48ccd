package fhirapi

import (
	"bytes"
	"context"

	"github.com/concord-health/concord"
)

// putChanged stores r (with put) unless it would repeat the content of
// cur, the current version: an update whose content equals the current
// content apart from meta.versionId and meta.lastUpdated creates no
// version, so that sending the same resource again (a re-import, a retried
// PUT) changes nothing. It returns the version that is now current and
// whether it stored one. Every update goes through it, single or in a
// Bundle.
func (a *api) putChanged(ctx context.Context, tx concord.Tx, cur, r *concord.Resource, action string, tmpl concord.AuditRecord) (*concord.Resource, bool, error) {
	if cur != nil && !cur.Deleted && !r.Deleted && sameContent(cur.Content, r.Content) {
		return cur, false, nil
	}
	if err := a.put(ctx, tx, r, action, tmpl); err != nil {
		return nil, false, err
	}
	return r, true, nil
}

// sameContent tells whether two stored versions of a resource hold the
// same content apart from meta.versionId and meta.lastUpdated, ignoring
// insignificant whitespace. Both must be in the stored layout (withMeta,
// storedJSON); anything else counts as different.
func sameContent(a, b []byte) bool {
	ah, at, ok1 := splitVersionMeta(a)
	bh, bt, ok2 := splitVersionMeta(b)
	return ok1 && ok2 && bytes.Equal(ah, bh) && equalJSONText(at, bt)
}

// splitVersionMeta returns the stored JSON before meta.versionId and
// after meta.lastUpdated's value.
func splitVersionMeta(b []byte) (head, tail []byte, ok bool) {
	const v, lu = `"meta":{"versionId":"`, `"lastUpdated":"`
	i := bytes.Index(b, []byte(v))
	if i < 0 {
		return nil, nil, false
	}
	j := bytes.Index(b[i:], []byte(lu))
	if j < 0 {
		return nil, nil, false
	}
	k := i + j + len(lu)
	e := bytes.IndexByte(b[k:], '"')
	if e < 0 {
		return nil, nil, false
	}
	return b[:i], b[k+e+1:], true
}

// equalJSONText compares two JSON texts byte for byte, skipping
// whitespace outside strings.
func equalJSONText(a, b []byte) bool {
	i, j := 0, 0
	in := false // inside a string (in both, as they agree so far)
	for {
		for !in && i < len(a) && isSpace(a[i]) {
			i++
		}
		for !in && j < len(b) && isSpace(b[j]) {
			j++
		}
		if i == len(a) || j == len(b) {
			return i == len(a) && j == len(b)
		}
		c := a[i]
		if c != b[j] {
			return false
		}
		i, j = i+1, j+1
		switch {
		case c == '\\' && in: // the escaped byte follows in both
			if i == len(a) || j == len(b) || a[i] != b[j] {
				return false
			}
			i, j = i+1, j+1
		case c == '"':
			in = !in
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
