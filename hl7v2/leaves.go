package hl7v2

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// FieldLeaf is one subcomponent of a message with its full position.
type FieldLeaf struct {
	Segment Segment
	Field   int
	Leaf
}

// EachLeaf yields every non-empty subcomponent of the message in order,
// with its position, reading the message once: the fast way to walk a
// whole message. MSH-1 and MSH-2 are yielded whole.
func (m *Message) EachLeaf(yield func(FieldLeaf) bool) {
	var s leafScanner
	s.init(m)
	var found [leafBatch + leafSlack]leafRec
	// Each leaf is prepared one step before it is yielded: passing a
	// struct just written field by field would stall on reading back the
	// stores.
	var cur, next FieldLeaf
	next.Value = Value{d: m.delims, level: levelSub}
	for {
		n := s.scan(&found)
		if n == 0 {
			return
		}
		m.prepareLeaf(&next, &found[0])
		for i := range n {
			cur = next
			if i+1 < n {
				m.prepareLeaf(&next, &found[i+1])
			}
			if !yield(cur) {
				return
			}
		}
	}
}

// prepareLeaf sets l to the leaf r describes.
func (m *Message) prepareLeaf(l *FieldLeaf, r *leafRec) {
	seg := r.segment()
	start, end := uint32(r.span), uint32(r.span>>32)
	l.Segment = Segment{m, seg}
	l.Field, l.Rep, l.Component, l.Sub = int(r.fr>>32), int(r.fr&lo32), int(r.cs>>32), int(r.cs&lo32)
	l.Value.raw = m.segs[seg].data[start:end]
	l.Value.level, l.Value.plain = levelSub, r.kind() == leafPlain
	if r.kind() == leafWhole {
		l.Value.level = levelLeaf
	}
}

// LeafPos is where a subcomponent stands in its message: PID-3[2].4.1 is
// the PID segment, field 3, repetition 2, component 4, subcomponent 1. It
// is small enough to pass in registers.
type LeafPos struct {
	seg    Segment
	fr, cs uint64 // field<<32 | repetition, component<<32 | subcomponent
}

// Segment returns the segment.
func (p LeafPos) Segment() Segment { return p.seg }

// Field returns the field number, from 1.
func (p LeafPos) Field() int { return int(p.fr >> 32) }

// Rep returns the repetition number, from 1.
func (p LeafPos) Rep() int { return int(p.fr & lo32) }

// Component returns the component number, from 1.
func (p LeafPos) Component() int { return int(p.cs >> 32) }

// Sub returns the subcomponent number, from 1.
func (p LeafPos) Sub() int { return int(p.cs & lo32) }

// EachLeafText yields the same subcomponents as EachLeaf, in the same
// order, with their text decoded: escape sequences are decoded as
// Unescape does (MSH-1 and MSH-2 are yielded as they are). It is the
// cheapest way to read every value of a message. The text is a slice of
// the message when the value holds no escape character, and otherwise a
// buffer that the next value may overwrite: do not modify it, and copy it
// to keep it.
func (m *Message) EachLeafText(yield func(LeafPos, []byte) bool) {
	var s leafScanner
	s.init(m)
	var found [leafBatch + leafSlack]leafRec
	for {
		n := s.scan(&found)
		if n == 0 {
			return
		}
		for i := range found[:n] {
			r := &found[i]
			seg := r.segment()
			start, end := uint32(r.span), uint32(r.span>>32)
			text := m.segs[seg].data[start:end:end]
			if r.kind() == leafEscaped {
				text = s.unescape(text)
			}
			if !yield(LeafPos{Segment{m, seg}, r.fr, r.cs}, text) {
				return
			}
		}
	}
}

// unescape decodes text into the scanner's buffer, which it returns.
func (s *leafScanner) unescape(text []byte) []byte {
	if s.buf == nil {
		s.buf = make([]byte, 0, max(256, 2*len(text)))
	}
	s.buf = Unescape(s.buf[:0], text, &s.m.delims)
	return s.buf
}

// A leafScanner finds the leaves of a message a batch at a time. Its scan
// loop calls no function, so that the compiler keeps its state in
// registers, and it decides without branching whether a leaf is empty;
// the iterators then yield the batch.
type leafScanner struct {
	m     *Message
	seg   int    // the segment being read
	next  int    // the next byte of it to read, or -1 before its start
	start int    // the first byte of the current leaf
	fr    uint64 // field<<32 | repetition of the current leaf
	cs    uint64 // component<<32 | subcomponent of the current leaf
	esc   uint64 // leafEscaped when the current leaf holds an escape character
	buf   []byte // decoded text, reused

	wfd, wrd, wcd, wsd, wed uint64 // the delimiters, repeated in a word
	class                   [256]uint8
}

// leafRec is one leaf found by a leafScanner: its position, and its bytes
// in the data of its segment. It is written field by field: a composite
// literal would be built aside and then copied, and the copy, reading
// back stores just made, stalls.
type leafRec struct {
	fr, cs  uint64 // as in leafScanner
	span    uint64 // end<<32 | start: its bytes in the segment data
	segKind uint64 // segment index<<2 | kind
}

// Kinds of leafRec.
const (
	leafPlain   = iota // a subcomponent without escape characters
	leafEscaped        // a subcomponent with escape characters
	leafWhole          // MSH-1 or MSH-2: never split, never unescaped
)

func (r *leafRec) set(fr, cs uint64, start, end int, segKind uint64) {
	r.fr, r.cs, r.span, r.segKind = fr, cs, uint64(end)<<32|uint64(start), segKind
}

func (r *leafRec) segment() int { return int(r.segKind >> 2) }

func (r *leafRec) kind() uint64 { return r.segKind & 3 }

const (
	leafBatch = 64 // leaves per batch, at least
	leafSlack = 72 // room for the leaves of the last block and segment end
	lo32      = 1<<32 - 1
	hi32      = ^uint64(lo32)
	firstLeaf = 1<<32 | 1 // the first repetition and component, or subcomponent
)

// moves says what each delimiter does to the position of the next leaf:
// fr and cs are masked with keep, then add is added. The index is the
// delimiter's class: field separator, repetition, component,
// subcomponent.
var moves = [4]struct{ keepFR, addFR, keepCS, addCS uint64 }{
	{hi32, 1<<32 | 1, 0, firstLeaf},
	{^uint64(0), 1, 0, firstLeaf},
	{^uint64(0), 0, hi32, firstLeaf},
	{^uint64(0), 0, ^uint64(0), 1},
}

func (s *leafScanner) init(m *Message) {
	d := &m.delims
	s.m, s.next = m, -1
	s.wfd, s.wrd, s.wcd, s.wsd, s.wed = repeated(d.Field), repeated(d.Repetition), repeated(d.Component), repeated(d.Subcomponent), repeated(d.Escape)
	s.class[d.Repetition], s.class[d.Component], s.class[d.Subcomponent] = 1, 2, 3
}

// delimiters returns a bit for each byte of block that is a delimiter
// other than the escape character: bit j for block[j].
func (s *leafScanner) delimiters(block *[64]byte) uint64 {
	a, b, c, d := s.wfd, s.wrd, s.wcd, s.wsd
	return byteMask(match4(binary.LittleEndian.Uint64(block[0:]), a, b, c, d)) |
		byteMask(match4(binary.LittleEndian.Uint64(block[8:]), a, b, c, d))<<8 |
		byteMask(match4(binary.LittleEndian.Uint64(block[16:]), a, b, c, d))<<16 |
		byteMask(match4(binary.LittleEndian.Uint64(block[24:]), a, b, c, d))<<24 |
		byteMask(match4(binary.LittleEndian.Uint64(block[32:]), a, b, c, d))<<32 |
		byteMask(match4(binary.LittleEndian.Uint64(block[40:]), a, b, c, d))<<40 |
		byteMask(match4(binary.LittleEndian.Uint64(block[48:]), a, b, c, d))<<48 |
		byteMask(match4(binary.LittleEndian.Uint64(block[56:]), a, b, c, d))<<56
}

// escapes returns a bit for each byte of block that is the escape
// character.
func (s *leafScanner) escapes(block *[64]byte) uint64 {
	e := s.wed
	return byteMask(match1(binary.LittleEndian.Uint64(block[0:]), e)) |
		byteMask(match1(binary.LittleEndian.Uint64(block[8:]), e))<<8 |
		byteMask(match1(binary.LittleEndian.Uint64(block[16:]), e))<<16 |
		byteMask(match1(binary.LittleEndian.Uint64(block[24:]), e))<<24 |
		byteMask(match1(binary.LittleEndian.Uint64(block[32:]), e))<<32 |
		byteMask(match1(binary.LittleEndian.Uint64(block[40:]), e))<<40 |
		byteMask(match1(binary.LittleEndian.Uint64(block[48:]), e))<<48 |
		byteMask(match1(binary.LittleEndian.Uint64(block[56:]), e))<<56
}

// scan fills found with the next leaves, at least leafBatch of them unless
// the message ends first, and returns how many it found: 0 at the end. It
// reads the segments in blocks of 64 bytes, a bit for each byte, so that
// the loop over the delimiters of a block ends once per block.
func (s *leafScanner) scan(found *[leafBatch + leafSlack]leafRec) int {
	segs := s.m.segs
	i, next, start, fr, cs, esc := s.seg, s.next, s.start, s.fr, s.cs, s.esc
	var tail [64]byte // the last bytes of a segment, padded with zeros
	class := &s.class
	n := 0
	for ; i < len(segs); i, next = i+1, -1 {
		seg := &segs[i]
		b := seg.data
		si := uint64(i) << 2
		escapes := bytes.IndexByte(b, s.m.delims.Escape) >= 0
		if next < 0 {
			if n >= leafBatch {
				break
			}
			// b[next] is the field separator before the first field to
			// split: after the segment ID, or after MSH-2.
			next, fr = 3, 1<<32
			if seg.isHeader() {
				if len(b) < 4 {
					continue // a bare "BHS": no MSH-1 to yield
				}
				found[n].set(firstLeaf, firstLeaf, 3, 4, si|leafWhole)
				enc := seg.part(1)
				found[n+1].set(2<<32|1, firstLeaf, 4, 4+len(enc), si|leafWhole)
				n += 1 + min(len(enc), 1)
				next, fr = 4+len(enc), 3<<32
			}
			if next >= len(b) {
				continue
			}
			next++
			fr, cs, start, esc = fr|1, firstLeaf, next, leafPlain
		}
		for ; next < len(b); next += 64 {
			if n >= leafBatch {
				s.seg, s.next, s.start, s.fr, s.cs, s.esc = i, next, start, fr, cs, esc
				return n
			}
			// Bit j of hits marks a delimiter at next+j, bit j of e an
			// escape character.
			block := &tail
			if next+64 <= len(b) {
				block = (*[64]byte)(b[next:])
			} else {
				tail = [64]byte{}
				copy(tail[:], b[next:])
			}
			hits, e := s.delimiters(block), uint64(0)
			if escapes {
				e = s.escapes(block)
			}
			if e != 0 {
				// A block with escape characters (rare): each leaf is
				// marked when some of them lie before its end.
				for ; hits != 0; hits &= hits - 1 {
					below := hits&-hits - 1
					if e&below != 0 {
						esc = leafEscaped
					}
					e &^= below
					t := bits.TrailingZeros64(hits) & 63
					pos := next + t
					found[n].set(fr, cs, start, pos, si|esc)
					n += int(uint(start-pos) >> (bits.UintSize - 1))
					mv := &moves[class[block[t]]&3]
					fr = fr&mv.keepFR + mv.addFR
					cs = cs&mv.keepCS + mv.addCS
					start, esc = pos+1, leafPlain
				}
				if e != 0 {
					esc = leafEscaped
				}
				continue
			}
			for ; hits != 0; hits &= hits - 1 {
				t := bits.TrailingZeros64(hits) & 63
				pos := next + t
				found[n].set(fr, cs, start, pos, si|esc)
				n += int(uint(start-pos) >> (bits.UintSize - 1)) // when pos > start
				mv := &moves[class[block[t]]&3]
				fr = fr&mv.keepFR + mv.addFR
				cs = cs&mv.keepCS + mv.addCS
				start, esc = pos+1, leafPlain
			}
		}
		if start < len(b) {
			found[n].set(fr, cs, start, len(b), si|esc)
			n++
		}
	}
	s.seg, s.next = i, next
	return n
}
