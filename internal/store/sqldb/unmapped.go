package sqldb

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/concord-health/concord"
)

// Limits on what the "needs mapping" report keeps of a code: the values
// come from interface messages, so they are cut rather than refused (a
// failure here would fail the transaction storing the converted message).
const (
	maxUnmappedKey     = 256 // sender, system, code
	maxUnmappedDisplay = 512
	maxPlace           = 32
	maxPlaces          = 200 // the places column stops growing beyond this
)

// recordUnmapped adds one use of a code or counts it on the existing row.
// places gains the new place unless listed already: the LIKE is safe as
// places hold only [A-Z0-9.-] (see place).
var recordUnmapped = `INSERT INTO unmapped_codes
	(sender, system, code, display, places, seen, first_seen, last_seen, mapped_at, mapped_to)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 0, '')
	ON CONFLICT (sender, system, code) DO UPDATE SET
	seen = unmapped_codes.seen + excluded.seen,
	first_seen = CASE WHEN excluded.first_seen < unmapped_codes.first_seen THEN excluded.first_seen ELSE unmapped_codes.first_seen END,
	last_seen = CASE WHEN excluded.last_seen > unmapped_codes.last_seen THEN excluded.last_seen ELSE unmapped_codes.last_seen END,
	display = CASE WHEN excluded.display <> '' THEN excluded.display ELSE unmapped_codes.display END,
	places = CASE
		WHEN excluded.places = '' THEN unmapped_codes.places
		WHEN unmapped_codes.places = '' THEN excluded.places
		WHEN (' ' || unmapped_codes.places || ' ') LIKE ('% ' || excluded.places || ' %') THEN unmapped_codes.places
		WHEN length(unmapped_codes.places) >= ` + strconv.Itoa(maxPlaces) + ` THEN unmapped_codes.places
		ELSE unmapped_codes.places || ' ' || excluded.places END,
	mapped_at = 0,
	mapped_to = ''`

func (t *sqlTx) RecordUnmapped(ctx context.Context, c *concord.UnmappedCode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.Code == "" {
		return concord.Errorf(concord.EINVALID, "an unmapped code needs a code")
	}
	at := c.LastSeen
	if at.IsZero() {
		at = time.Now()
	}
	n := max(c.Count, 1)
	sender, system, code := cut(c.Sender, maxUnmappedKey), cut(c.System, maxUnmappedKey), cut(c.Code, maxUnmappedKey)
	display := cut(c.Display, maxUnmappedDisplay)
	var places []string
	for _, w := range c.Where {
		if p := place(w); p != "" {
			places = append(places, p)
		}
	}
	if len(places) == 0 {
		places = []string{""}
	}
	// The first place carries the count; any further one only adds
	// itself to the row.
	stmts := make([]Stmt, len(places))
	for i, p := range places {
		stmts[i] = Stmt{SQL: recordUnmapped, Args: []any{sender, system, code, display, p, n, at.UnixMicro()}}
		n = 0
	}
	return t.later(stmts...)
}

func (t *sqlTx) SetCodeMapped(ctx context.Context, sender, system, code string, at time.Time, target string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var micros int64
	if !at.IsZero() {
		micros = at.UnixMicro()
	} else {
		target = ""
	}
	return t.later(Stmt{SQL: `UPDATE unmapped_codes SET mapped_at = $1, mapped_to = $2 WHERE sender = $3 AND system = $4 AND code = $5`, Args: []any{micros, cut(target, 2*maxUnmappedKey), cut(sender, maxUnmappedKey), cut(system, maxUnmappedKey), cut(code, maxUnmappedKey)}})
}

// UnmappedCodes returns a page of the "needs mapping" report.
func (s *Store) UnmappedCodes(ctx context.Context, f concord.UnmappedFilter) ([]*concord.UnmappedCode, int64, error) {
	var where []string
	var args []any
	if f.Sender != "" {
		args = append(args, f.Sender, len(f.Sender)+1, f.Sender+"^")
		n := len(args)
		where = append(where, "(sender = $"+strconv.Itoa(n-2)+" OR substr(sender, 1, $"+strconv.Itoa(n-1)+") = $"+strconv.Itoa(n)+")")
	}
	if !f.Mapped {
		where = append(where, "mapped_at = 0")
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int64
	if err := s.a.Read.QueryRow(ctx, `SELECT COUNT(*) FROM unmapped_codes`+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, limit, max(f.Offset, 0))
	rows, err := s.a.Read.Query(ctx, `SELECT sender, system, code, display, places, seen, first_seen, last_seen, mapped_at, mapped_to
		FROM unmapped_codes`+cond+` ORDER BY seen DESC, sender, system, code LIMIT $`+strconv.Itoa(len(args)-1)+
		` OFFSET $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []*concord.UnmappedCode{}
	for rows.Next() {
		var c concord.UnmappedCode
		var places string
		var first, last, mapped int64
		if err := rows.Scan(&c.Sender, &c.System, &c.Code, &c.Display, &places, &c.Count, &first, &last, &mapped, &c.MappedTo); err != nil {
			return nil, 0, err
		}
		c.Where = strings.Fields(places)
		if c.Where == nil {
			c.Where = []string{}
		}
		c.FirstSeen, c.LastSeen = time.UnixMicro(first).UTC(), time.UnixMicro(last).UTC()
		if mapped != 0 {
			c.MappedAt = time.UnixMicro(mapped).UTC()
		}
		out = append(out, &c)
	}
	return out, total, rows.Err()
}

// ResourceStamp counts the versions of a type and finds the newest.
func (s *Store) ResourceStamp(ctx context.Context, typ string) (concord.ResourceStamp, error) {
	var st concord.ResourceStamp
	err := s.a.Read.QueryRow(ctx, `SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM resource_versions WHERE type = $1`, typ).
		Scan(&st.Versions, &st.LastSeq)
	return st, err
}

// place returns a place a code was seen in (such as "OBX-3") upper-cased
// and reduced to letters, digits, dots and hyphens, at most maxPlace long.
func place(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if b.Len() >= maxPlace {
			break
		}
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// cut shortens s to at most n bytes, at a character boundary, and makes
// it valid UTF-8 without NUL (PostgreSQL refuses either in TEXT).
func cut(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
