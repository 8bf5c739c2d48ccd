package hl7v2

import (
	"bytes"
	"math/bits"
)

// MaxSegments caps the segments of one message, so that hostile input
// cannot make the parser allocate without bound.
const MaxSegments = 100000

var bom = []byte{0xEF, 0xBB, 0xBF}

// Parse parses one message. It accepts CR, LF or CRLF after segments, a
// UTF-8 byte-order mark and blank lines, and decodes the character set
// MSH-18 declares (see Charset). The message keeps data: do not modify it
// afterwards.
func Parse(data []byte) (*Message, error) {
	m := &Message{raw: data}
	text := bytes.TrimPrefix(data, bom)
	offset := len(data) - len(text)
	for len(text) > 0 && (text[0] == '\r' || text[0] == '\n' || text[0] == ' ' || text[0] == '\t') {
		text, offset = text[1:], offset+1
	}
	if len(text) < 8 || !bytes.HasPrefix(text, []byte("MSH")) {
		return nil, &ParseError{Offset: offset, Code: CodeSegmentSequence, Reason: "a message must start with an MSH segment (batches: see SplitBatch)"}
	}
	d, err := readDelimiters(text)
	if err != nil {
		return nil, &ParseError{Segment: 1, Offset: offset + 3, Code: CodeDataType, Reason: err.Error()}
	}
	m.delims = d
	if cs := declaredCharset(text, d); cs != "" {
		m.charset = cs
		dec, err := charsetDecoder(cs)
		if err != nil {
			return nil, &ParseError{Segment: 1, Offset: offset, Code: CodeUnsupportedCharset, Reason: err.Error()}
		}
		if dec != nil {
			conv, err := dec(text)
			if err != nil {
				return nil, &ParseError{Segment: 1, Offset: offset, Code: CodeUnsupportedCharset, Reason: "MSH-18 " + cs + ": " + err.Error()}
			}
			text, offset = conv, 0
		}
	}
	if err := m.index(text, offset); err != nil {
		return nil, err
	}
	return m, nil
}

// readDelimiters reads MSH-1 and MSH-2 from the start of a header segment.
func readDelimiters(text []byte) (Delimiters, error) {
	d := Delimiters{Field: text[3]}
	enc := text[4:]
	end := bytes.IndexByte(enc, d.Field)
	if end < 0 {
		return d, errorString("MSH-2 (encoding characters) is not followed by a field separator")
	}
	enc = enc[:end]
	if len(enc) < 4 || len(enc) > 5 {
		return d, errorString("MSH-2 must hold 4 encoding characters (5 from v2.7)")
	}
	d.Component, d.Repetition, d.Escape, d.Subcomponent = enc[0], enc[1], enc[2], enc[3]
	if len(enc) == 5 {
		d.Truncation = enc[4]
	}
	if err := d.validate(); err != nil {
		return d, err
	}
	return d, nil
}

type errorString string

func (e errorString) Error() string { return string(e) }

// index splits text into segments and records each segment's field
// separators in one shared array. It reads text a word at a time, looking
// for field separators and segment terminators at once.
func (m *Message) index(text []byte, offset int) error {
	fs := m.delims.Field
	nseg := bytes.Count(text, []byte{'\r'}) + bytes.Count(text, []byte{'\n'}) + 1
	if nseg > MaxSegments*2 {
		return &ParseError{Offset: offset, Code: CodeSegmentSequence, Reason: "too many segments"}
	}
	m.segs = make([]segment, 0, nseg)
	arena := make([]int32, bytes.Count(text, []byte{fs}))
	nsep := 0            // field separators recorded in arena
	start, first := 0, 0 // the current segment's first byte and separator
	wfs, wcr, wlf := repeated(fs), repeated('\r'), repeated('\n')
	var tail [64]byte // the last bytes of text, padded with zeros
	for base := 0; base < len(text); base += 64 {
		block := &tail
		if base+64 <= len(text) {
			block = (*[64]byte)(text[base:])
		} else {
			copy(tail[:], text[base:])
		}
		for hits := blockMatch3(block, wfs, wcr, wlf); hits != 0; hits &= hits - 1 {
			t := bits.TrailingZeros64(hits) & 63
			pos := base + t
			if block[t] == fs {
				arena[nsep] = int32(pos - start)
				nsep++
				continue
			}
			if err := m.addSegment(text[start:pos], arena[first:nsep:nsep], offset+start); err != nil {
				return err
			}
			start, first = pos+1, nsep
		}
	}
	return m.addSegment(text[start:], arena[first:nsep:nsep], offset+start)
}

// addSegment appends the segment data, whose field separators are at
// seps, unless it is empty (a blank line, or the second byte of CRLF).
// offset is the segment's position in the input, for errors.
func (m *Message) addSegment(data []byte, seps []int32, offset int) error {
	if len(data) == 0 {
		return nil
	}
	if len(m.segs) == MaxSegments {
		return &ParseError{Segment: len(m.segs) + 1, Offset: offset, Code: CodeSegmentSequence, Reason: "too many segments"}
	}
	if err := checkSegmentName(data, m.delims.Field); err != nil {
		return &ParseError{Segment: len(m.segs) + 1, Offset: offset, Code: CodeSegmentSequence, Reason: err.Error()}
	}
	seg := segment{data: data, seps: seps}
	copy(seg.name[:], data[:3])
	m.segs = append(m.segs, seg)
	return nil
}

// checkSegmentName requires three upper-case letters or digits, then a
// field separator or the end of the segment.
func checkSegmentName(data []byte, fs byte) error {
	if len(data) < 3 || len(data) > 3 && data[3] != fs {
		return errorString("segment ID must be three characters followed by the field separator")
	}
	for _, c := range data[:3] {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return errorString("segment ID must be upper-case letters and digits")
		}
	}
	return nil
}
