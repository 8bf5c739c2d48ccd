package fhirpath

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// Limits on the JSON documents ParseJSON accepts.
const (
	MaxDocumentSize = 64 << 20 // bytes
	MaxJSONDepth    = 256      // nesting of objects and arrays
)

// JSONKind is the kind of a JSON value.
type JSONKind uint8

// JSON value kinds.
const (
	JSONNull JSONKind = iota
	JSONFalse
	JSONTrue
	JSONNumber
	JSONString
	JSONArray
	JSONObject
)

// Doc is a JSON document indexed for navigation: one pass over the bytes
// records the kind and extent of every value, and values are read from
// the bytes only when asked for. Evaluation runs over a Doc directly; no
// other tree is built. A Doc is safe for concurrent reads.
type Doc struct {
	src   []byte
	nodes []jnode
	// text is src as a string, made at the first string read: strings
	// read from the document are slices of it rather than one allocation
	// each (they were a third of all allocations of a store import). It
	// is a copy, so a string read from the Doc stays valid whatever later
	// happens to src.
	textOnce sync.Once
	text     string
}

// str returns the document's bytes from start to end as a string, without
// allocating after the first call.
func (d *Doc) str(start, end uint32) string {
	d.textOnce.Do(func() { d.text = string(d.src) })
	return d.text[start:end]
}

// jnode is one value (or object key) of a document. Members of an object
// follow it as key, value pairs; elements of an array follow it in order;
// next is the index just past the node's whole subtree.
type jnode struct {
	kind       JSONKind
	escaped    bool   // a string with escapes, decoded on reading
	start, end uint32 // the value's bytes; a string's without its quotes
	next       uint32
	count      uint32 // an array's elements or an object's members
}

// JSONError is a document that is not valid JSON, with the byte offset of
// the problem.
type JSONError struct {
	Offset int
	Msg    string
}

func (e *JSONError) Error() string { return fmt.Sprintf("json: %s at offset %d", e.Msg, e.Offset) }

// ParseJSON checks and indexes a JSON document. The Doc keeps src, which must
// not change while it is in use.
func ParseJSON(src []byte) (*Doc, error) {
	if len(src) > MaxDocumentSize {
		return nil, &JSONError{Msg: fmt.Sprintf("document larger than %d bytes", MaxDocumentSize)}
	}
	if !utf8.Valid(src) {
		return nil, &JSONError{Msg: "not UTF-8"}
	}
	ix := indexer{src: src, nodes: make([]jnode, 0, len(src)/12+4)}
	ix.space()
	if err := ix.value(0); err != nil {
		return nil, err
	}
	ix.space()
	if ix.i != len(src) {
		return nil, ix.errorf("data after the top-level value")
	}
	return &Doc{src: src, nodes: ix.nodes}, nil
}

type indexer struct {
	src   []byte
	i     int
	nodes []jnode
}

func (ix *indexer) errorf(format string, args ...any) error {
	return &JSONError{Offset: ix.i, Msg: fmt.Sprintf(format, args...)}
}

func (ix *indexer) space() {
	for ix.i < len(ix.src) {
		switch ix.src[ix.i] {
		case ' ', '\t', '\n', '\r':
			ix.i++
		default:
			return
		}
	}
}

// value indexes one value at the current offset.
func (ix *indexer) value(depth int) error {
	if ix.i >= len(ix.src) {
		return ix.errorf("unexpected end")
	}
	at := len(ix.nodes)
	switch c := ix.src[ix.i]; {
	case c == '{' || c == '[':
		return ix.container(depth, c == '{')
	case c == '"':
		return ix.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return ix.number()
	}
	for _, lit := range []struct {
		text string
		kind JSONKind
	}{{"true", JSONTrue}, {"false", JSONFalse}, {"null", JSONNull}} {
		if len(ix.src)-ix.i >= len(lit.text) && string(ix.src[ix.i:ix.i+len(lit.text)]) == lit.text {
			ix.nodes = append(ix.nodes, jnode{kind: lit.kind, start: uint32(ix.i), end: uint32(ix.i + len(lit.text)),
				next: uint32(at + 1)})
			ix.i += len(lit.text)
			return nil
		}
	}
	return ix.errorf("unexpected character %q", ix.src[ix.i])
}

// container indexes an object or an array; the offset is at its opening
// bracket.
func (ix *indexer) container(depth int, object bool) error {
	if depth >= MaxJSONDepth {
		return ix.errorf("nested deeper than %d", MaxJSONDepth)
	}
	kind, closer := JSONArray, byte(']')
	if object {
		kind, closer = JSONObject, '}'
	}
	at := len(ix.nodes)
	ix.nodes = append(ix.nodes, jnode{kind: kind, start: uint32(ix.i)})
	ix.i++
	ix.space()
	n := uint32(0)
	if ix.i < len(ix.src) && ix.src[ix.i] == closer {
		ix.i++
	} else {
		for {
			if object {
				if ix.i >= len(ix.src) || ix.src[ix.i] != '"' {
					return ix.errorf("want a member name")
				}
				if err := ix.str(); err != nil {
					return err
				}
				ix.space()
				if ix.i >= len(ix.src) || ix.src[ix.i] != ':' {
					return ix.errorf("want ':'")
				}
				ix.i++
				ix.space()
			}
			if err := ix.value(depth + 1); err != nil {
				return err
			}
			n++
			ix.space()
			if ix.i < len(ix.src) && ix.src[ix.i] == ',' {
				ix.i++
				ix.space()
				continue
			}
			if ix.i < len(ix.src) && ix.src[ix.i] == closer {
				ix.i++
				break
			}
			return ix.errorf("want ',' or '%c'", closer)
		}
	}
	nd := &ix.nodes[at]
	nd.end, nd.count, nd.next = uint32(ix.i), n, uint32(len(ix.nodes))
	return nil
}

// str indexes a string; the offset is at its opening quote.
func (ix *indexer) str() error {
	start := ix.i + 1
	escaped := false
	for j := start; j < len(ix.src); j++ {
		switch c := ix.src[j]; {
		case c == '"':
			ix.nodes = append(ix.nodes, jnode{kind: JSONString, escaped: escaped, start: uint32(start), end: uint32(j),
				next: uint32(len(ix.nodes) + 1)})
			ix.i = j + 1
			return nil
		case c == '\\':
			escaped = true
			if j+1 >= len(ix.src) {
				ix.i = j
				return ix.errorf("string not closed")
			}
			switch ix.src[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if j+5 >= len(ix.src) {
					ix.i = j
					return ix.errorf("bad \\u escape")
				}
				for _, h := range ix.src[j+2 : j+6] {
					if hexVal(h) < 0 {
						ix.i = j
						return ix.errorf("bad \\u escape")
					}
				}
				j += 5
			default:
				ix.i = j
				return ix.errorf("bad escape")
			}
		case c < 0x20:
			ix.i = j
			return ix.errorf("control character in a string")
		}
	}
	ix.i = len(ix.src)
	return ix.errorf("string not closed")
}

// number indexes a number following the JSON grammar.
func (ix *indexer) number() error {
	start := ix.i
	s := ix.src
	if s[ix.i] == '-' {
		ix.i++
	}
	switch {
	case ix.i < len(s) && s[ix.i] == '0':
		ix.i++
	case ix.i < len(s) && s[ix.i] >= '1' && s[ix.i] <= '9':
		for ix.i < len(s) && isDigit(s[ix.i]) {
			ix.i++
		}
	default:
		return ix.errorf("bad number")
	}
	if ix.i < len(s) && s[ix.i] == '.' {
		ix.i++
		if ix.i >= len(s) || !isDigit(s[ix.i]) {
			return ix.errorf("bad number")
		}
		for ix.i < len(s) && isDigit(s[ix.i]) {
			ix.i++
		}
	}
	if ix.i < len(s) && (s[ix.i] == 'e' || s[ix.i] == 'E') {
		ix.i++
		if ix.i < len(s) && (s[ix.i] == '+' || s[ix.i] == '-') {
			ix.i++
		}
		if ix.i >= len(s) || !isDigit(s[ix.i]) {
			return ix.errorf("bad number")
		}
		for ix.i < len(s) && isDigit(s[ix.i]) {
			ix.i++
		}
	}
	ix.nodes = append(ix.nodes, jnode{kind: JSONNumber, start: uint32(start), end: uint32(ix.i), next: uint32(len(ix.nodes) + 1)})
	return nil
}

// JSONRef is a value in a Doc.
type JSONRef struct {
	doc *Doc
	n   uint32
}

// Root returns the document's top-level value.
func (d *Doc) Root() JSONRef { return JSONRef{doc: d, n: 0} }

// Kind returns the value's kind.
func (r JSONRef) Kind() JSONKind { return r.doc.nodes[r.n].kind }

// Raw returns the value's bytes as written (a string without its quotes
// and with its escapes).
func (r JSONRef) Raw() []byte {
	nd := &r.doc.nodes[r.n]
	return r.doc.src[nd.start:nd.end]
}

// Len returns the number of elements of an array or members of an
// object, 0 for other values.
func (r JSONRef) Len() int { return int(r.doc.nodes[r.n].count) }

// Get returns the member name of an object.
func (r JSONRef) Get(name string) (JSONRef, bool) {
	return r.member("", name)
}

// getExtension returns the member "_"+name of an object (a primitive's
// id and extensions), without building that name.
func (r JSONRef) getExtension(name string) (JSONRef, bool) {
	return r.member("_", name)
}

// member returns the value of an object's first member named prefix +
// name, comparing keys without building that name or, unless a key has
// escapes, decoding the key.
func (r JSONRef) member(prefix, name string) (JSONRef, bool) {
	nd := &r.doc.nodes[r.n]
	if nd.kind != JSONObject {
		return JSONRef{}, false
	}
	i := r.n + 1
	for range nd.count {
		key := &r.doc.nodes[i]
		raw := r.doc.src[key.start:key.end]
		if key.escaped {
			raw = []byte(unescapeJSON(raw))
		}
		if len(raw) == len(prefix)+len(name) && string(raw[:len(prefix)]) == prefix && string(raw[len(prefix):]) == name {
			return JSONRef{doc: r.doc, n: i + 1}, true
		}
		i = r.doc.nodes[i+1].next
	}
	return JSONRef{}, false
}

// Each calls fn with each element of an array, or each member (name and
// value) of an object, in order, until fn returns false.
func (r JSONRef) Each(fn func(name string, v JSONRef) bool) {
	nd := &r.doc.nodes[r.n]
	i := r.n + 1
	switch nd.kind {
	case JSONArray:
		for range nd.count {
			if !fn("", JSONRef{doc: r.doc, n: i}) {
				return
			}
			i = r.doc.nodes[i].next
		}
	case JSONObject:
		for range nd.count {
			name := JSONRef{doc: r.doc, n: i}.String()
			if !fn(name, JSONRef{doc: r.doc, n: i + 1}) {
				return
			}
			i = r.doc.nodes[i+1].next
		}
	}
}

// Index returns element k of an array.
func (r JSONRef) Index(k int) (JSONRef, bool) {
	nd := &r.doc.nodes[r.n]
	if nd.kind != JSONArray || k < 0 || k >= int(nd.count) {
		return JSONRef{}, false
	}
	i := r.n + 1
	for ; k > 0; k-- {
		i = r.doc.nodes[i].next
	}
	return JSONRef{doc: r.doc, n: i}, true
}

// String returns a string's value, decoded; other kinds give their text.
func (r JSONRef) String() string {
	nd := &r.doc.nodes[r.n]
	raw := r.doc.src[nd.start:nd.end]
	if nd.kind != JSONString || !nd.escaped {
		return r.doc.str(nd.start, nd.end)
	}
	return unescapeJSON(raw)
}

// Number returns a number's value as float64.
func (r JSONRef) Number() (float64, error) {
	if r.Kind() != JSONNumber {
		return 0, errors.New("json: not a number")
	}
	return strconv.ParseFloat(string(r.Raw()), 64)
}

// unescapeJSON decodes the escapes of a string that Index checked.
func unescapeJSON(raw []byte) string {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(raw[i+1 : i+5])
			i += 4
			if utf16.IsSurrogate(r) && i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
				if r2 := hex4(raw[i+3 : i+7]); utf16.DecodeRune(r, r2) != utf8.RuneError {
					r = utf16.DecodeRune(r, r2)
					i += 6
				}
			}
			out = utf8.AppendRune(out, r)
		default: // " \ /
			out = append(out, raw[i])
		}
	}
	return string(out)
}

func hex4(b []byte) rune {
	var r rune
	for _, h := range b {
		r = r<<4 | rune(hexVal(h))
	}
	return r
}

// JSON returns the value as JSON text: a string with its quotes and
// escapes, other values as written.
func (r JSONRef) JSON() []byte {
	nd := &r.doc.nodes[r.n]
	start, end := nd.start, nd.end
	if nd.kind == JSONString {
		start, end = start-1, end+1
	}
	return r.doc.src[start:end]
}
