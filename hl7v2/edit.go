package hl7v2

import (
	"bytes"
	"fmt"
)

// New returns a message holding only an MSH segment with the given
// delimiters; fill it with Set.
func New(d Delimiters) (*Message, error) {
	if err := d.validate(); err != nil {
		return nil, fmt.Errorf("hl7v2: %w", err)
	}
	m := &Message{delims: d, modified: true}
	data := append([]byte("MSH"), d.Field)
	data = append(data, d.EncodingCharacters()...)
	m.segs = []segment{newSegment(data, d.Field)}
	return m, nil
}

func newSegment(data []byte, fs byte) segment {
	s := segment{data: data}
	copy(s.name[:], data)
	for i, c := range data {
		if c == fs {
			s.seps = append(s.seps, int32(i))
		}
	}
	return s
}

// Set stores text at the path, escaping any delimiters in it, so that it
// reads back unchanged. Missing fields, repetitions and components are
// added; a missing segment is appended to the message. MSH-1 and MSH-2
// cannot be set.
func (m *Message) Set(path, text string) error {
	p, err := ParsePath(path)
	if err != nil {
		return err
	}
	return m.put(p, Escape(nil, text, &m.delims))
}

// SetRaw stores encoded bytes at the path as they are, so a composite
// value (with component separators, say) can be written in one step.
func (m *Message) SetRaw(path string, raw []byte) error {
	p, err := ParsePath(path)
	if err != nil {
		return err
	}
	if bytes.IndexAny(raw, "\r\n") >= 0 {
		return fmt.Errorf("hl7v2: SetRaw %s: value holds a segment terminator", path)
	}
	return m.put(p, raw)
}

func (m *Message) put(p Path, raw []byte) error {
	if p.Field == 0 {
		return fmt.Errorf("hl7v2: set %s: a field number is needed", p)
	}
	occ := max(p.Occurrence, 1)
	seg, ok := m.Find(p.Segment, occ)
	if !ok {
		if p.Segment == "MSH" || m.Count(p.Segment) != occ-1 {
			return fmt.Errorf("hl7v2: set %s: no segment %s[%d] to add to", p, p.Segment, occ)
		}
		m.segs = append(m.segs, newSegment([]byte(p.Segment), m.delims.Field))
		seg = Segment{m: m, i: len(m.segs) - 1}
	}
	s := &m.segs[seg.i]
	d := &m.delims
	header := s.isHeader()
	if header && p.Field <= 2 {
		return fmt.Errorf("hl7v2: set %s: the encoding characters cannot be changed", p)
	}
	// Split the segment into its pieces on the field separator; piece k is
	// field k, or field k+1 in a header segment.
	pieces := bytes.Split(s.data, []byte{d.Field})
	idx := p.Field
	if header {
		idx = p.Field - 1
	}
	for len(pieces) <= idx {
		pieces = append(pieces, nil)
	}
	field := pieces[idx]
	switch {
	case p.Rep == 0 && p.Component == 0:
		field = raw
	default:
		rep := max(p.Rep, 1)
		field = replacePiece(field, d.Repetition, rep, func(r []byte) []byte {
			if p.Component == 0 {
				return raw
			}
			return replacePiece(r, d.Component, p.Component, func(c []byte) []byte {
				if p.Sub == 0 {
					return raw
				}
				return replacePiece(c, d.Subcomponent, p.Sub, func([]byte) []byte { return raw })
			})
		})
	}
	pieces[idx] = field
	// Drop trailing empty fields, as encoders should.
	for len(pieces) > 1 && len(pieces[len(pieces)-1]) == 0 && (!header || len(pieces) > 2) {
		pieces = pieces[:len(pieces)-1]
	}
	*s = newSegment(bytes.Join(pieces, []byte{d.Field}), d.Field)
	m.modified = true
	return nil
}

// replacePiece returns b with its n-th piece (split on c) replaced by
// f(old piece), adding empty pieces as needed and trimming trailing empty
// ones.
func replacePiece(b []byte, c byte, n int, f func([]byte) []byte) []byte {
	parts := bytes.Split(b, []byte{c})
	if len(b) == 0 {
		parts = [][]byte{nil}
	}
	for len(parts) < n {
		parts = append(parts, nil)
	}
	parts[n-1] = f(parts[n-1])
	for len(parts) > 1 && len(parts[len(parts)-1]) == 0 {
		parts = parts[:len(parts)-1]
	}
	return bytes.Join(parts, []byte{c})
}

// DeleteSegment removes the i-th segment (0-based). The MSH segment cannot
// be removed.
func (m *Message) DeleteSegment(i int) error {
	if i < 0 || i >= len(m.segs) {
		return fmt.Errorf("hl7v2: no segment %d", i)
	}
	if i == 0 {
		return fmt.Errorf("hl7v2: the header segment cannot be deleted")
	}
	m.segs = append(m.segs[:i], m.segs[i+1:]...)
	m.modified = true
	return nil
}

// InsertSegment inserts an encoded segment (such as "NTE|1||text") before
// the i-th segment; i == Len() appends. It must use the message's
// delimiters.
func (m *Message) InsertSegment(i int, encoded string) error {
	if i < 1 || i > len(m.segs) {
		return fmt.Errorf("hl7v2: cannot insert a segment at %d", i)
	}
	data := []byte(encoded)
	if bytes.IndexAny(data, "\r\n") >= 0 {
		return fmt.Errorf("hl7v2: a segment cannot hold a segment terminator")
	}
	if err := checkSegmentName(data, m.delims.Field); err != nil {
		return fmt.Errorf("hl7v2: %w", err)
	}
	seg := newSegment(data, m.delims.Field)
	if seg.isHeader() {
		return fmt.Errorf("hl7v2: a header segment cannot be inserted")
	}
	m.segs = append(m.segs, segment{})
	copy(m.segs[i+1:], m.segs[i:])
	m.segs[i] = seg
	m.modified = true
	return nil
}

// AppendSegment adds an encoded segment at the end of the message.
func (m *Message) AppendSegment(encoded string) error {
	return m.InsertSegment(len(m.segs), encoded)
}

// Clone returns an independent copy of the message, for editing.
func (m *Message) Clone() *Message {
	c := &Message{raw: m.raw, delims: m.delims, charset: m.charset, modified: m.modified}
	c.segs = make([]segment, len(m.segs))
	for i, s := range m.segs {
		c.segs[i] = segment{name: s.name, data: bytes.Clone(s.data), seps: append([]int32(nil), s.seps...)}
	}
	return c
}
