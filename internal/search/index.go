package search

import (
	"context"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhir"
	"github.com/concord-health/concord/fhirpath"
)

// UCUM is the system of UCUM units.
const UCUM = "http://unitsofmeasure.org"

// maxIndexSteps bounds the work of one parameter's expression on one
// resource.
const maxIndexSteps = 200_000

// Index computes the search index of a resource: the values of every
// search parameter of its type. A parameter whose expression fails on
// this resource (too much work, a value of the wrong kind) is left out
// of the index rather than failing the write.
func Index(ctx context.Context, doc *fhirpath.Doc) (*concord.SearchIndex, error) {
	return IndexAt(ctx, doc.Root(), nil)
}

// IndexAt is Index for a resource inside a larger document (a Bundle
// entry's). A reference that is not yet resolved (a urn:uuid of another
// entry, or a conditional reference such as Patient?identifier=…) is kept
// by its text in URL, for the caller to map with Rewrite once it knows
// where it points; refType, when not nil, tells the type such a
// reference will point to (for the specification's "resolve() is
// Patient" filters), or "".
func IndexAt(ctx context.Context, root fhirpath.JSONRef, refType func(ref string) string) (*concord.SearchIndex, error) {
	rt, ok := root.Get("resourceType")
	if !ok {
		return nil, concord.Errorf(concord.EINVALID, "the resource has no resourceType")
	}
	typ := rt.String()
	input, err := fhirpath.Resource(root)
	if err != nil {
		return nil, concord.Errorf(concord.EINVALID, "%v", err)
	}
	x := &concord.SearchIndex{}
	b := builder{x: x, seen: map[rowKey]bool{}}
	opt := &fhirpath.Options{Context: ctx, Resolver: typeResolver{refType}, MaxSteps: maxIndexSteps}
	for _, c := range paramsOf(typ) {
		out, err := c.x.EvaluateOn(input, input, opt)
		if err != nil {
			continue
		}
		code := c.p.Code
		for _, v := range out {
			if c.p.Type == fhir.SearchComposite {
				b.composite(c, v, input, opt)
				continue
			}
			b.add(code, c.p.Type, v)
		}
	}
	return x, nil
}

// builder collects index rows, each once.
type builder struct {
	x    *concord.SearchIndex
	seen map[rowKey]bool
}

// rowKey identifies an index row: its kind (s string, t token, d date,
// r reference, n number, u uri, q quantity, c composite), parameter and
// values, in the fields each kind uses.
type rowKey struct {
	kind           byte
	param          string
	s1, s2, s3, s4 string
	i1, i2         int64
	f1, f2         float64
}

func (b *builder) once(k rowKey) bool {
	if b.seen[k] {
		return false
	}
	b.seen[k] = true
	return true
}

func (b *builder) str(param, s string) {
	if s = strings.TrimSpace(s); s == "" {
		return
	}
	n := Normalize(s)
	e := cut(s, maxKey)
	if b.once(rowKey{kind: 's', param: param, s1: e}) {
		b.x.Strings = append(b.x.Strings, concord.IndexString{Param: param, Norm: n, Exact: e})
	}
}

func (b *builder) token(param, system, code, text string) {
	system, code = cut(system, maxKey), cut(code, maxKey)
	if code == "" && text == "" {
		return
	}
	t := Normalize(text)
	if b.once(rowKey{kind: 't', param: param, s1: system, s2: code, s3: t}) {
		b.x.Tokens = append(b.x.Tokens, concord.IndexToken{Param: param, System: system, Code: code, Text: t})
	}
}

func (b *builder) date(param string, lo, hi int64) {
	if b.once(rowKey{kind: 'd', param: param, i1: lo, i2: hi}) {
		b.x.Dates = append(b.x.Dates, concord.IndexDate{Param: param, Lo: lo, Hi: hi})
	}
}

func (b *builder) ref(param, typ, id, url string) {
	if b.once(rowKey{kind: 'r', param: param, s1: typ, s2: id, s3: url}) {
		b.x.Refs = append(b.x.Refs, concord.IndexRef{Param: param, Type: typ, ID: id, URL: cut(url, maxKey)})
	}
}

// add indexes one value of a parameter of the given type.
func (b *builder) add(param, kind string, v fhirpath.Value) {
	node, isNode := v.Node()
	ft := v.FHIRType()
	get := func(name string) string {
		if !isNode {
			return ""
		}
		if c, ok := node.Get(name); ok && c.Kind() == fhirpath.JSONString {
			return c.String()
		}
		return ""
	}
	each := func(name string, fn func(fhirpath.JSONRef)) {
		if !isNode {
			return
		}
		c, ok := node.Get(name)
		if !ok {
			return
		}
		if c.Kind() == fhirpath.JSONArray {
			for i := 0; i < c.Len(); i++ {
				e, _ := c.Index(i)
				fn(e)
			}
			return
		}
		fn(c)
	}
	switch kind {
	case fhir.SearchString:
		switch ft {
		case "HumanName":
			b.str(param, get("family"))
			b.str(param, get("text"))
			for _, n := range []string{"given", "prefix", "suffix"} {
				each(n, func(e fhirpath.JSONRef) { b.str(param, e.String()) })
			}
		case "Address":
			for _, n := range []string{"city", "district", "state", "postalCode", "country", "text"} {
				b.str(param, get(n))
			}
			each("line", func(e fhirpath.JSONRef) { b.str(param, e.String()) })
		default:
			b.str(param, v.String())
		}
	case fhir.SearchToken:
		switch ft {
		case "Coding":
			b.token(param, get("system"), get("code"), get("display"))
		case "CodeableConcept":
			text := get("text")
			n := 0
			each("coding", func(c fhirpath.JSONRef) {
				n++
				d := str(c, "display")
				if text != "" {
					d = text
				}
				b.token(param, str(c, "system"), str(c, "code"), d)
			})
			if n == 0 {
				b.token(param, "", "", text)
			}
		case "Identifier":
			value := get("value")
			text := ""
			if t, ok := node.Get("type"); ok {
				text = str(t, "text")
				if cs, ok := t.Get("coding"); ok && cs.Kind() == fhirpath.JSONArray {
					for i := 0; i < cs.Len(); i++ {
						c, _ := cs.Index(i)
						if value != "" {
							b.token(param+":of-type", str(c, "system"), str(c, "code")+"|"+value, "")
						}
					}
				}
			}
			b.token(param, get("system"), value, text)
		case "ContactPoint":
			b.token(param, get("system"), get("value"), "")
		case "Quantity", "Age", "Duration", "Distance", "Count", "SimpleQuantity":
			b.token(param, get("system"), get("code"), get("unit"))
		case "Reference":
			if id, ok := node.Get("identifier"); ok {
				b.token(param, str(id, "system"), str(id, "value"), "")
			}
		default:
			if s := v.String(); s != "" {
				b.token(param, "", s, "")
			}
		}
	case fhir.SearchDate:
		switch ft {
		case "Period":
			lo, hi := MinTime, MaxTime
			if s := get("start"); s != "" {
				if l, _, err := DateRange(s); err == nil {
					lo = l
				}
			}
			if s := get("end"); s != "" {
				if _, h, err := DateRange(s); err == nil {
					hi = h
				}
			}
			if get("start") != "" || get("end") != "" {
				b.date(param, lo, hi)
			}
		case "Timing":
			lo, hi := MaxTime, MinTime
			each("event", func(e fhirpath.JSONRef) {
				if l, h, err := DateRange(e.String()); err == nil {
					lo, hi = min(lo, l), max(hi, h)
				}
			})
			if lo <= hi {
				b.date(param, lo, hi)
			}
		default:
			if lo, hi, err := DateRange(v.String()); err == nil {
				b.date(param, lo, hi)
			}
		}
	case fhir.SearchNumber:
		if f, err := strconv.ParseFloat(numberText(v), 64); err == nil && !math.IsInf(f, 0) {
			if b.once(rowKey{kind: 'n', param: param, f1: f}) {
				b.x.Numbers = append(b.x.Numbers, concord.IndexNumber{Param: param, Value: f})
			}
		}
	case fhir.SearchQuantity:
		b.quantity(param, v)
	case fhir.SearchReference:
		switch ft {
		case "Reference":
			if r := get("reference"); r != "" {
				t, id, url := ParseReference(r)
				if t == "" && url == "" && strings.Contains(r, "?") {
					url = r // a conditional reference, for Rewrite
				}
				if url != "" {
					// An absolute reference is another server's unless the
					// FHIR layer made it relative: kept by its URL only.
					t, id = "", ""
				}
				if t != "" || url != "" {
					b.ref(param, t, id, url)
				}
			}
			if idn, ok := node.Get("identifier"); ok {
				b.token(param+":identifier", str(idn, "system"), str(idn, "value"), "")
			}
		default: // canonical, uri: a URL, without its version
			if s := v.String(); s != "" {
				url, _, _ := strings.Cut(s, "|")
				b.ref(param, "", "", url)
			}
		}
	case fhir.SearchURI:
		if s := v.String(); s != "" {
			s = cut(s, maxKey)
			if b.once(rowKey{kind: 'u', param: param, s1: s}) {
				b.x.URIs = append(b.x.URIs, concord.IndexURI{Param: param, URI: s})
			}
		}
	}
}

// quantity indexes a Quantity (or Money) value.
func (b *builder) quantity(param string, v fhirpath.Value) {
	node, ok := v.Node()
	if !ok {
		return
	}
	val, ok := node.Get("value")
	if !ok || val.Kind() != fhirpath.JSONNumber {
		return
	}
	f, err := val.Number()
	if err != nil || math.IsInf(f, 0) {
		return
	}
	system, code := str(node, "system"), str(node, "code")
	if v.FHIRType() == "Money" {
		system, code = "urn:iso:std:iso:4217", str(node, "currency")
	}
	if code == "" {
		code = str(node, "unit")
	}
	q := concord.IndexQuantity{Param: param, System: cut(system, maxKey), Code: cut(code, maxKey), Value: f}
	if system == UCUM || system == "" {
		if cv, key, ok := fhirpath.UCUMCanonical(f, code); ok && code != "" {
			q.CanonCode, q.CanonValue = key, cv
		}
	}
	if b.once(rowKey{kind: 'q', param: param, s1: q.System, s2: q.Code, f1: f}) {
		b.x.Quantities = append(b.x.Quantities, q)
	}
}

// composite indexes a composite parameter's value: every pair of its two
// parts' values.
func (b *builder) composite(c compiled, v fhirpath.Value, root fhirpath.Collection, opt *fhirpath.Options) {
	first, err := c.parts[0].EvaluateOn(fhirpath.Collection{v}, root, opt)
	if err != nil {
		return
	}
	second, err := c.parts[1].EvaluateOn(fhirpath.Collection{v}, root, opt)
	if err != nil {
		return
	}
	// Each part indexed on its own, into a scratch index.
	var as, bs concord.SearchIndex
	ab := builder{x: &as, seen: map[rowKey]bool{}}
	for _, x := range first {
		ab.add("a", fhir.SearchToken, x)
	}
	bb := builder{x: &bs, seen: map[rowKey]bool{}}
	for _, x := range second {
		bb.add("b", c.kinds[1], x)
	}
	var parts []concord.IndexComposite
	switch c.kinds[1] {
	case fhir.SearchToken:
		for _, t := range bs.Tokens {
			parts = append(parts, concord.IndexComposite{BSystem: t.System, BCode: t.Code})
		}
	case fhir.SearchQuantity:
		for _, q := range bs.Quantities {
			parts = append(parts, concord.IndexComposite{BSystem: q.System, BCode: q.Code, BLo: q.Value, BHi: q.Value})
			if q.CanonCode != "" {
				parts = append(parts, concord.IndexComposite{BSystem: "canon", BCode: q.CanonCode, BLo: q.CanonValue, BHi: q.CanonValue})
			}
		}
	case fhir.SearchDate:
		for _, d := range bs.Dates {
			parts = append(parts, concord.IndexComposite{BLo: float64(d.Lo), BHi: float64(d.Hi)})
		}
	case fhir.SearchString:
		for _, s := range bs.Strings {
			parts = append(parts, concord.IndexComposite{BCode: s.Norm})
		}
	}
	for _, a := range as.Tokens {
		if a.Code == "" {
			continue
		}
		for _, p := range parts {
			p.Param, p.ASystem, p.ACode = c.p.Code, a.System, a.Code
			if b.once(rowKey{kind: 'c', param: p.Param, s1: p.ASystem, s2: p.ACode, s3: p.BSystem, s4: p.BCode, f1: p.BLo, f2: p.BHi}) {
				b.x.Composites = append(b.x.Composites, p)
			}
		}
	}
}

// str returns a string member of an object, or "".
func str(r fhirpath.JSONRef, name string) string {
	if c, ok := r.Get(name); ok && c.Kind() == fhirpath.JSONString {
		return c.String()
	}
	return ""
}

// numberText returns the text of a number value.
func numberText(v fhirpath.Value) string {
	if n, ok := v.Node(); ok && n.Kind() == fhirpath.JSONNumber {
		return string(n.Raw())
	}
	return v.String()
}

// ParseReference splits a reference: Type/id (or Type/id/_history/n)
// gives the type and id; an absolute URL gives url (and, when it ends in
// Type/id, that type and id too); a contained reference (#id) gives
// nothing.
func ParseReference(ref string) (typ, id, url string) {
	if ref == "" || strings.HasPrefix(ref, "#") {
		return "", "", ""
	}
	abs := strings.Contains(ref, "://") || strings.HasPrefix(ref, "urn:")
	path := ref
	if i := strings.Index(path, "/_history/"); i >= 0 {
		path = path[:i]
	}
	// The last two segments, Type/id.
	if i := strings.LastIndexByte(path, '/'); i > 0 {
		last, rest := path[i+1:], path[:i]
		prev := rest[strings.LastIndexByte(rest, '/')+1:]
		if fhir.IsResource(prev) && concord.IsFHIRID(last) {
			typ, id = prev, last
		}
	}
	if abs {
		url = ref
	}
	return typ, id, url
}

// typeResolver answers resolve() while indexing with a resource that has
// only the type the reference names: enough for the specification's
// "resolve() is Patient" filters, without reading the store.
type typeResolver struct {
	refType func(string) string // for references not yet resolved; may be nil
}

var typeDocs sync.Map // type -> *fhirpath.Doc

func (tr typeResolver) Resolve(_ context.Context, ref string) (*fhirpath.Doc, error) {
	t, _, _ := ParseReference(ref)
	if t == "" && tr.refType != nil {
		t = tr.refType(ref)
	}
	if t == "" || !fhir.IsResource(t) {
		return nil, nil
	}
	if d, ok := typeDocs.Load(t); ok {
		return d.(*fhirpath.Doc), nil
	}
	d, err := fhirpath.ParseJSON([]byte(`{"resourceType":"` + t + `"}`))
	if err != nil {
		return nil, err
	}
	typeDocs.Store(t, d)
	return d, nil
}

// Rewrite maps the references of an index computed before they were
// resolved (see IndexAt): each URL that rewrite maps to another reference
// is replaced by the type and id that reference names.
func Rewrite(x *concord.SearchIndex, rewrite func(string) (string, error)) (*concord.SearchIndex, error) {
	if x == nil {
		return nil, nil
	}
	var refs []concord.IndexRef
	for i, r := range x.Refs {
		if r.URL == "" {
			continue
		}
		to, err := rewrite(r.URL)
		if err != nil {
			return nil, err
		}
		if to == r.URL {
			continue
		}
		if refs == nil {
			refs = append([]concord.IndexRef(nil), x.Refs...)
		}
		t, id, url := ParseReference(to)
		if url != "" {
			t, id = "", ""
		}
		refs[i] = concord.IndexRef{Param: r.Param, Type: t, ID: id, URL: url}
	}
	if refs == nil {
		return x, nil
	}
	out := *x
	out.Refs = refs
	return &out, nil
}
