package hl7v2

import (
	"bytes"
)

// Message is one parsed HL7 v2 message. The zero value is not usable; get
// one from Parse or New. A Message is not safe for concurrent editing;
// concurrent reads are fine.
type Message struct {
	raw      []byte // the input, returned by Bytes while the message is unedited
	delims   Delimiters
	charset  string // MSH-18 as declared, "" when absent
	segs     []segment
	modified bool
}

// segment is one segment: its bytes (without terminator) and the offsets of
// its field separators within them.
type segment struct {
	name [3]byte
	data []byte
	seps []int32
}

// Delimiters returns the message's encoding characters.
func (m *Message) Delimiters() Delimiters { return m.delims }

// Charset returns MSH-18 as declared ("" when absent).
func (m *Message) Charset() string { return m.charset }

// Len returns the number of segments.
func (m *Message) Len() int { return len(m.segs) }

// Segment returns the i-th segment (0-based) of the message.
func (m *Message) Segment(i int) Segment {
	return Segment{m: m, i: i}
}

// Segments returns every segment in order.
func (m *Message) Segments() []Segment {
	out := make([]Segment, len(m.segs))
	for i := range m.segs {
		out[i] = Segment{m: m, i: i}
	}
	return out
}

// Find returns the n-th (1-based) segment named name, and whether it
// exists.
func (m *Message) Find(name string, n int) (Segment, bool) {
	if len(name) != 3 || n < 1 {
		return Segment{}, false
	}
	for i := range m.segs {
		s := &m.segs[i]
		if s.name[0] == name[0] && s.name[1] == name[1] && s.name[2] == name[2] {
			n--
			if n == 0 {
				return Segment{m: m, i: i}, true
			}
		}
	}
	return Segment{}, false
}

// Count returns how many segments are named name.
func (m *Message) Count(name string) int {
	n := 0
	for i := range m.segs {
		if string(m.segs[i].name[:]) == name {
			n++
		}
	}
	return n
}

// Segment is a handle on one segment of a message. It stays valid while
// the message's segments are not inserted or deleted.
type Segment struct {
	m *Message
	i int
}

// Index returns the segment's 0-based position in the message.
func (s Segment) Index() int { return s.i }

// Name returns the segment ID, such as "PID".
func (s Segment) Name() string { return string(s.m.segs[s.i].name[:]) }

// Bytes returns the segment as encoded, without terminator. The caller
// must not modify it.
func (s Segment) Bytes() []byte { return s.m.segs[s.i].data }

// isHeader reports whether fields are numbered the MSH way: field 1 is the
// field separator itself. FHS and BHS headers follow the same rule.
func (seg *segment) isHeader() bool {
	n := seg.name
	return n == [3]byte{'M', 'S', 'H'} || n == [3]byte{'F', 'H', 'S'} || n == [3]byte{'B', 'H', 'S'}
}

// part returns the p-th piece (0-based) of the segment split on the field
// separator, or nil when there is none.
func (seg *segment) part(p int) []byte {
	if p < 0 || p > len(seg.seps) {
		return nil
	}
	start := 0
	if p > 0 {
		start = int(seg.seps[p-1]) + 1
	}
	end := len(seg.data)
	if p < len(seg.seps) {
		end = int(seg.seps[p])
	}
	return seg.data[start:end]
}

// FieldCount returns the number of the segment's last field (fields may be
// empty).
func (s Segment) FieldCount() int {
	seg := &s.m.segs[s.i]
	if seg.isHeader() {
		return len(seg.seps) + 1
	}
	return len(seg.seps)
}

// Field returns field n (1-based, as in PID-3). For MSH, FHS and BHS,
// field 1 is the field separator and field 2 the encoding characters, as
// the standard numbers them. A field beyond the end is empty.
func (s Segment) Field(n int) Value {
	seg := &s.m.segs[s.i]
	d := &s.m.delims
	if seg.isHeader() {
		switch {
		case n == 1:
			return Value{raw: seg.data[3:4], d: *d, level: levelLeaf}
		case n == 2:
			return Value{raw: seg.part(1), d: *d, level: levelLeaf}
		default:
			return Value{raw: seg.part(n - 1), d: *d, level: levelField}
		}
	}
	if n < 1 {
		return Value{d: *d, level: levelField}
	}
	return Value{raw: seg.part(n), d: *d, level: levelField}
}

// String returns the segment as encoded.
func (s Segment) String() string { return string(s.Bytes()) }

// Bytes encodes the message. An unedited message returns the exact bytes
// it was parsed from (with their segment terminators and any byte-order
// mark); an edited one is encoded with CR after each segment, in the
// character set MSH-18 declares.
func (m *Message) Bytes() []byte {
	if !m.modified {
		return m.raw
	}
	n := 0
	for i := range m.segs {
		n += len(m.segs[i].data) + 1
	}
	out := make([]byte, 0, n)
	for i := range m.segs {
		out = append(out, m.segs[i].data...)
		out = append(out, '\r')
	}
	if enc := charsetEncoder(m.charset); enc != nil {
		if b, err := enc(out); err == nil {
			return b
		}
	}
	return out
}

// String returns the message encoded, with segments separated by CR.
func (m *Message) String() string { return string(m.Bytes()) }

// equalName reports whether seg is named name.
func (seg *segment) equalName(name []byte) bool {
	return len(name) == 3 && bytes.Equal(seg.name[:], name)
}
