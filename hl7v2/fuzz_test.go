package hl7v2

import (
	"bytes"
	"fmt"
	"testing"
)

// walk decodes every leaf of every field of m, the way a converter reads
// a whole message, and returns the total decoded length.
func walk(m *Message, scratch []byte) int {
	n := 0
	for leaf := range m.EachLeaf {
		scratch = leaf.Value.AppendText(scratch[:0])
		n += len(scratch)
	}
	return n
}

// checkIndex compares the segments and field separators Parse recorded
// with those found by splitting the message the slow way.
func checkIndex(t *testing.T, m *Message) {
	t.Helper()
	if m.charset != "" {
		return // converted text: its offsets are not those of the input
	}
	text := bytes.TrimLeft(bytes.TrimPrefix(m.raw, bom), "\r\n \t")
	lines := bytes.FieldsFunc(text, func(r rune) bool { return r == '\r' || r == '\n' })
	if len(lines) != len(m.segs) {
		t.Fatalf("%d segments, %d lines", len(m.segs), len(lines))
	}
	for i, l := range lines {
		seg := &m.segs[i]
		if !bytes.Equal(seg.data, l) {
			t.Fatalf("segment %d is %q, line %q", i+1, seg.data, l)
		}
		var seps []int32
		for j, c := range l {
			if c == m.delims.Field {
				seps = append(seps, int32(j))
			}
		}
		if fmt.Sprint(seps) != fmt.Sprint(seg.seps) {
			t.Fatalf("segment %d: separators at %v, want %v", i+1, seg.seps, seps)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(synthetic))
	f.Add([]byte("MSH#$%*@#A#B\nPID#1##ID1$$$AUTH@1.2%ID2#\n"))
	f.Add([]byte("\xef\xbb\xbfMSH|^~\\&|A\r\nPID|1\r\n"))
	f.Add([]byte("MSH|^~\\&|A||||||ADT^A01|1|P|2.5||||||8859/1\rPID|1||||Jos\xe9\r"))
	f.Add([]byte("MSH|^~\\&#|A|||||||1|P|2.7\rOBX|1|ST|||a\\P\\b\\X41\\\\.br\\\r"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			return
		}
		if !bytes.Equal(m.Bytes(), data) {
			t.Fatal("unedited message does not encode to its input")
		}
		checkIndex(t, m)
		checkLeaves(t, m)
		walk(m, nil)
		for _, p := range []string{"MSH-9.2", "PID-3[2].4.2", "OBX[2]-5", "MSH-18"} {
			m.Get(p)
		}
		c := m.Clone()
		if err := c.Set("MSH-10", "FUZZ-1"); err != nil {
			t.Fatalf("Set MSH-10: %v", err)
		}
		again, err := Parse(c.Bytes())
		if err != nil {
			t.Fatalf("edited message does not parse: %v\n%q", err, c.Bytes())
		}
		if again.ControlID() != "FUZZ-1" || again.Len() != m.Len() {
			t.Fatalf("edited message reads back wrong: %q", c.Bytes())
		}
		m.Ack(AE, []Issue{{Location: Location{Segment: "PID", Field: 3}, Code: CodeDataType, Text: string(data[:min(len(data), 40)])}}, AckOptions{ControlID: "A"})
	})
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"a|b^c&d~e\\f", "line\nbreak\rcr", "#", "", "\\X41\\", "ü"} {
		f.Add(s)
	}
	d := DefaultDelimiters
	d.Truncation = '#'
	f.Fuzz(func(t *testing.T, s string) {
		enc := Escape(nil, s, &d)
		if bytes.ContainsAny(enc, "|^&~\r\n#") {
			t.Fatalf("Escape(%q) = %q leaves a delimiter", s, enc)
		}
		if got := string(Unescape(nil, enc, &d)); got != s {
			t.Fatalf("round trip %q -> %q -> %q", s, enc, got)
		}
		Unescape(nil, []byte(s), &d) // any text decodes without panic
	})
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"PID-3[2].1", "OBX(4)-5(2).3.1", "MSH-9", "ZZ1", "PID-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			return
		}
		q, err := ParsePath(p.String())
		if err != nil || q != p {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, p, p.String(), q, err)
		}
	})
}

func FuzzSplitBatch(f *testing.F) {
	f.Add([]byte("FHS|^~\\&\nBHS|^~\\&\nMSH|^~\\&|A\nPID|1\nBTS|1\nFTS|1\n"))
	f.Add([]byte("MSH|^~\\&|A\rMSH|^~\\&|B\r"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := SplitBatch(data)
		if err != nil {
			return
		}
		for _, m := range b.Messages {
			if !bytes.HasPrefix(m, []byte("MSH")) || m[len(m)-1] != '\r' {
				t.Fatalf("bad message %q", m)
			}
		}
	})
}
