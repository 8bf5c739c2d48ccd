package hl7v2

import (
	"bytes"
	"strings"
	"testing"
)

// eachLeafByteByByte is EachLeaf as it was before it read words: the
// reference the tests compare it with.
func eachLeafByteByByte(m *Message, yield func(FieldLeaf) bool) {
	d := &m.delims
	rd, cd, sd, ed, fd := d.Repetition, d.Component, d.Subcomponent, d.Escape, d.Field
	var l FieldLeaf
	for i := range m.segs {
		seg := &m.segs[i]
		l.Segment = Segment{m: m, i: i}
		b := seg.data
		pos, field := 3, 0 // after the segment ID
		if seg.isHeader() {
			if len(b) < 4 {
				continue
			}
			l.Field, l.Rep, l.Component, l.Sub = 1, 1, 1, 1
			l.Value = Value{raw: b[3:4], d: *d, level: levelLeaf}
			if !yield(l) {
				return
			}
			enc := seg.part(1)
			l.Field, l.Value = 2, Value{raw: enc, d: *d, level: levelLeaf}
			if len(enc) > 0 && !yield(l) {
				return
			}
			pos, field = 4+len(enc), 2
		}
		// b[pos] is a field separator (or the end): scan field by field.
		for pos < len(b) {
			field++
			pos++ // skip the field separator
			rep, comp, sub, start, plain := 1, 1, 1, pos, true
			for ; pos < len(b); pos++ {
				c := b[pos]
				if c != rd && c != cd && c != sd && c != ed && c != fd {
					continue
				}
				if c == ed {
					plain = false
					continue
				}
				if pos > start {
					l.Field, l.Rep, l.Component, l.Sub = field, rep, comp, sub
					l.Value = Value{raw: b[start:pos], d: *d, level: levelSub, plain: plain}
					if !yield(l) {
						return
					}
				}
				if c == fd {
					break
				}
				switch c {
				case sd:
					sub++
				case cd:
					comp, sub = comp+1, 1
				case rd:
					rep, comp, sub = rep+1, 1, 1
				}
				start, plain = pos+1, true
			}
			if pos == len(b) && pos > start {
				l.Field, l.Rep, l.Component, l.Sub = field, rep, comp, sub
				l.Value = Value{raw: b[start:pos], d: *d, level: levelSub, plain: plain}
				if !yield(l) {
					return
				}
			}
		}
	}
}

// checkLeaves compares EachLeaf and EachLeafText with the byte-by-byte
// walk: the same leaves, positions, raw bytes and decoded text.
func checkLeaves(t *testing.T, m *Message) {
	t.Helper()
	var want []FieldLeaf
	eachLeafByteByByte(m, func(l FieldLeaf) bool {
		want = append(want, l)
		return true
	})
	i := 0
	for l := range m.EachLeaf {
		if i >= len(want) {
			t.Fatalf("EachLeaf yields more than %d leaves", len(want))
		}
		w := want[i]
		if l.Segment != w.Segment || l.Field != w.Field || l.Rep != w.Rep || l.Component != w.Component || l.Sub != w.Sub ||
			!bytes.Equal(l.Value.raw, w.Value.raw) || l.Value.level != w.Value.level || l.Value.plain != w.Value.plain || l.Value.d != w.Value.d {
			t.Fatalf("leaf %d: %+v, want %+v", i, l, w)
		}
		i++
	}
	if i != len(want) {
		t.Fatalf("EachLeaf yields %d leaves, want %d", i, len(want))
	}
	i = 0
	for p, text := range m.EachLeafText {
		if i >= len(want) {
			t.Fatalf("EachLeafText yields more than %d leaves", len(want))
		}
		w := want[i]
		if p.Segment() != w.Segment || p.Field() != w.Field || p.Rep() != w.Rep || p.Component() != w.Component || p.Sub() != w.Sub {
			t.Fatalf("leaf %d at %+v, want %+v", i, p, w)
		}
		if string(text) != w.Value.String() {
			t.Fatalf("leaf %d (%s-%d): %q, want %q", i, w.Segment.Name(), w.Field, text, w.Value.String())
		}
		i++
	}
	if i != len(want) {
		t.Fatalf("EachLeafText yields %d leaves, want %d", i, len(want))
	}
}

// TestLeavesAgainstReference runs checkLeaves on the samples and on
// messages whose leaves and escapes straddle words and batches.
func TestLeavesAgainstReference(t *testing.T) {
	for name, data := range samples(t) {
		t.Run(name, func(t *testing.T) { checkLeaves(t, mustParse(t, string(data))) })
	}
	header := "MSH|^~\\&|A|B\r"
	body := "PID|" + strings.Repeat("a^\\T\\b&&c~~|", 40) + "\\E\\\rZZ1\rNTE|1||x\\.br\\y\\\rBHS\rBHS|^~\\&\rZZ2|\\X41\\^"
	for _, text := range []string{synthetic, header + body, header + strings.ReplaceAll(body, "|", "||"), header + strings.ReplaceAll(body, "^", "^^^")} {
		checkLeaves(t, mustParse(t, text))
	}
}

// TestEachLeafStops checks that both walks stop when asked to, at every
// leaf.
func TestEachLeafStops(t *testing.T) {
	m := mustParse(t, synthetic)
	total := 0
	for range m.EachLeaf {
		total++
	}
	for stop := 1; stop <= total; stop++ {
		n := 0
		for range m.EachLeaf {
			if n++; n == stop {
				break
			}
		}
		k := 0
		for range m.EachLeafText {
			if k++; k == stop {
				break
			}
		}
		if n != stop || k != stop {
			t.Fatalf("stopped at %d and %d, want %d", n, k, stop)
		}
	}
}
