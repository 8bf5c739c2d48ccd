package defs

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The encoding is gzip over: the magic "FHIRDEFS1", a string table (count,
// then each string as length and bytes), then the body, where every
// integer is an unsigned varint and every string is an index into the
// table. Encoding the same Defs always gives the same bytes.
const magic = "FHIRDEFS2"

// Encode writes d in the stored form.
func Encode(d *Defs) ([]byte, error) {
	var e encoder
	e.index = map[string]int{}
	e.defs(d)
	var raw bytes.Buffer
	raw.WriteString(magic)
	var tmp [binary.MaxVarintLen64]byte
	put := func(v int) { raw.Write(tmp[:binary.PutUvarint(tmp[:], uint64(v))]) }
	put(len(e.strings))
	for _, s := range e.strings {
		put(len(s))
		raw.WriteString(s)
	}
	raw.Write(e.body.Bytes())

	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

type encoder struct {
	body    bytes.Buffer
	strings []string
	index   map[string]int
	tmp     [binary.MaxVarintLen64]byte
}

func (e *encoder) uint(v int) {
	if v < 0 {
		panic("defs: negative value")
	}
	e.body.Write(e.tmp[:binary.PutUvarint(e.tmp[:], uint64(v))])
}

func (e *encoder) int(v int) { e.uint(v + 1) } // allows -1

func (e *encoder) bool(b bool) {
	if b {
		e.uint(1)
	} else {
		e.uint(0)
	}
}

func (e *encoder) str(s string) {
	i, ok := e.index[s]
	if !ok {
		i = len(e.strings)
		e.strings = append(e.strings, s)
		e.index[s] = i
	}
	e.uint(i)
}

func (e *encoder) strs(ss []string) {
	e.uint(len(ss))
	for _, s := range ss {
		e.str(s)
	}
}

func (e *encoder) defs(d *Defs) {
	e.str(d.FHIRVersion)
	e.str(d.Source)
	e.uint(d.SourceSearchParams)
	e.uint(len(d.Constraints))
	for _, c := range d.Constraints {
		e.str(c.Key)
		e.str(c.Severity)
		e.str(c.Human)
		e.str(c.Expression)
		e.str(c.Source)
	}
	e.uint(len(d.Types))
	for i := range d.Types {
		t := &d.Types[i]
		e.str(t.Name)
		e.str(t.URL)
		e.str(t.Kind)
		e.str(t.Base)
		e.str(t.Derivation)
		e.bool(t.Abstract)
		e.str(t.SystemType)
		e.str(t.Regex)
		e.uint(len(t.Elements))
		for j := range t.Elements {
			el := &t.Elements[j]
			e.str(el.Path)
			e.uint(el.Min)
			e.int(el.Max)
			e.uint(len(el.Types))
			for _, tr := range el.Types {
				e.str(tr.Code)
				e.strs(tr.Targets)
				e.strs(tr.Profiles)
			}
			e.str(el.ContentRef)
			e.bool(el.IsModifier)
			e.bool(el.IsSummary)
			e.str(el.Binding.Strength)
			e.str(el.Binding.ValueSet)
			e.uint(len(el.Constraints))
			for _, c := range el.Constraints {
				e.uint(c)
			}
		}
	}
	e.uint(len(d.SearchParams))
	for i := range d.SearchParams {
		p := &d.SearchParams[i]
		e.str(p.Code)
		e.str(p.Name)
		e.str(p.URL)
		e.str(p.Type)
		e.str(p.Expression)
		e.strs(p.Base)
		e.strs(p.Targets)
		e.uint(len(p.Components))
		for _, c := range p.Components {
			e.str(c.Definition)
			e.str(c.Expression)
		}
		e.uint(int(p.MultipleOr))
		e.uint(int(p.MultipleAnd))
		e.strs(p.Modifiers)
		e.strs(p.Comparators)
	}
	e.uint(len(d.ValueSets))
	for i := range d.ValueSets {
		v := &d.ValueSets[i]
		e.str(v.URL)
		e.str(v.Name)
		e.bool(v.Expanded)
		e.str(v.Reason)
		e.uint(len(v.Systems))
		for _, s := range v.Systems {
			e.str(s.System)
			e.strs(s.Codes)
		}
	}
	e.uint(len(d.Compartments))
	for _, c := range d.Compartments {
		e.str(c.Code)
		e.str(c.URL)
		e.uint(len(c.Resources))
		for _, r := range c.Resources {
			e.str(r.Type)
			e.strs(r.Params)
		}
	}
	e.uint(len(d.Excluded))
	for _, x := range d.Excluded {
		e.str(x.Kind)
		e.str(x.Name)
		e.str(x.Reason)
	}
}

// Decode reads the stored form written by Encode.
func Decode(data []byte) (d *Defs, err error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("defs: %w", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("defs: %w", err)
	}
	if !bytes.HasPrefix(raw, []byte(magic)) {
		return nil, errors.New("defs: not a definitions file")
	}
	dec := decoder{buf: raw[len(magic):]}
	defer func() {
		if r := recover(); r != nil {
			if de, ok := r.(decodeError); ok {
				d, err = nil, de
				return
			}
			panic(r)
		}
	}()
	n := dec.uint()
	// All strings share one backing string: one allocation for the table.
	lens := make([]int, n)
	total := 0
	start := dec.pos
	for i := range lens {
		lens[i] = dec.uint()
		dec.skip(lens[i])
		total += lens[i]
	}
	var sb strings.Builder
	sb.Grow(total)
	dec.pos = start
	for i := range lens {
		dec.uint()
		sb.Write(dec.buf[dec.pos : dec.pos+lens[i]])
		dec.pos += lens[i]
	}
	all := sb.String()
	dec.strings = make([]string, n)
	off := 0
	for i, l := range lens {
		dec.strings[i] = all[off : off+l]
		off += l
	}
	d = dec.defs()
	if dec.pos != len(dec.buf) {
		return nil, errors.New("defs: trailing bytes")
	}
	return d, nil
}

type decodeError string

func (e decodeError) Error() string { return "defs: " + string(e) }

type decoder struct {
	buf     []byte
	pos     int
	strings []string
}

func (d *decoder) uint() int {
	v, n := binary.Uvarint(d.buf[d.pos:])
	if n <= 0 || v > 1<<31 {
		panic(decodeError("bad varint"))
	}
	d.pos += n
	return int(v)
}

func (d *decoder) skip(n int) {
	if d.pos+n > len(d.buf) {
		panic(decodeError("truncated"))
	}
	d.pos += n
}

func (d *decoder) int() int   { return d.uint() - 1 }
func (d *decoder) bool() bool { return d.uint() != 0 }

func (d *decoder) str() string {
	i := d.uint()
	if i >= len(d.strings) {
		panic(decodeError("bad string index"))
	}
	return d.strings[i]
}

func (d *decoder) count() int {
	n := d.uint()
	if n > len(d.buf)-d.pos {
		panic(decodeError("bad count"))
	}
	return n
}

func (d *decoder) strs() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.str()
	}
	return ss
}

func (d *decoder) defs() *Defs {
	out := &Defs{}
	out.FHIRVersion = d.str()
	out.Source = d.str()
	out.SourceSearchParams = d.uint()
	out.Constraints = make([]Constraint, d.count())
	for i := range out.Constraints {
		out.Constraints[i] = Constraint{Key: d.str(), Severity: d.str(), Human: d.str(), Expression: d.str(), Source: d.str()}
	}
	out.Types = make([]Type, d.count())
	for i := range out.Types {
		t := &out.Types[i]
		t.Name = d.str()
		t.URL = d.str()
		t.Kind = d.str()
		t.Base = d.str()
		t.Derivation = d.str()
		t.Abstract = d.bool()
		t.SystemType = d.str()
		t.Regex = d.str()
		t.Elements = make([]Element, d.count())
		for j := range t.Elements {
			el := &t.Elements[j]
			el.Path = d.str()
			el.Min = d.uint()
			el.Max = d.int()
			if n := d.count(); n > 0 {
				el.Types = make([]TypeRef, n)
				for k := range el.Types {
					el.Types[k] = TypeRef{Code: d.str(), Targets: d.strs(), Profiles: d.strs()}
				}
			}
			el.ContentRef = d.str()
			el.IsModifier = d.bool()
			el.IsSummary = d.bool()
			el.Binding.Strength = d.str()
			el.Binding.ValueSet = d.str()
			if n := d.count(); n > 0 {
				el.Constraints = make([]int, n)
				for k := range el.Constraints {
					c := d.uint()
					if c >= len(out.Constraints) {
						panic(decodeError("bad constraint index"))
					}
					el.Constraints[k] = c
				}
			}
		}
	}
	out.SearchParams = make([]SearchParam, d.count())
	for i := range out.SearchParams {
		p := &out.SearchParams[i]
		p.Code = d.str()
		p.Name = d.str()
		p.URL = d.str()
		p.Type = d.str()
		p.Expression = d.str()
		p.Base = d.strs()
		p.Targets = d.strs()
		if n := d.count(); n > 0 {
			p.Components = make([]Component, n)
			for k := range p.Components {
				p.Components[k] = Component{Definition: d.str(), Expression: d.str()}
			}
		}
		p.MultipleOr = int8(d.uint())
		p.MultipleAnd = int8(d.uint())
		p.Modifiers = d.strs()
		p.Comparators = d.strs()
	}
	out.ValueSets = make([]ValueSet, d.count())
	for i := range out.ValueSets {
		v := &out.ValueSets[i]
		v.URL = d.str()
		v.Name = d.str()
		v.Expanded = d.bool()
		v.Reason = d.str()
		v.Systems = make([]SystemCodes, d.count())
		for k := range v.Systems {
			v.Systems[k] = SystemCodes{System: d.str(), Codes: d.strs()}
		}
	}
	out.Compartments = make([]Compartment, d.count())
	for i := range out.Compartments {
		c := &out.Compartments[i]
		c.Code = d.str()
		c.URL = d.str()
		c.Resources = make([]CompartmentResource, d.count())
		for k := range c.Resources {
			c.Resources[k] = CompartmentResource{Type: d.str(), Params: d.strs()}
		}
	}
	out.Excluded = make([]Exclusion, d.count())
	for i := range out.Excluded {
		out.Excluded[i] = Exclusion{Kind: d.str(), Name: d.str(), Reason: d.str()}
	}
	return out
}
