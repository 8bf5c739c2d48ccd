package fhirpath

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/concord-health/concord/fhir"
)

// FHIR XML (http://hl7.org/fhir/R4/xml.html) to FHIR JSON, typed by the
// R4 definitions: an element's repetitions become an array when the
// element may repeat, primitives take their value attribute (booleans
// and numbers as JSON literals) with id and extensions under _name,
// resources inside contained, Bundle.entry.resource or
// Parameters.parameter.resource get their resourceType, and the XHTML
// narrative becomes a string.

const (
	fhirNS  = "http://hl7.org/fhir"
	xhtmlNS = "http://www.w3.org/1999/xhtml"
)

// XMLToJSON converts a FHIR resource in XML to FHIR JSON.
func XMLToJSON(src []byte) ([]byte, error) {
	if len(src) > MaxDocumentSize {
		return nil, fmt.Errorf("fhirpath: XML larger than %d bytes", MaxDocumentSize)
	}
	c := &xmlConv{src: src, d: xml.NewDecoder(bytes.NewReader(src))}
	for {
		tok, err := c.next()
		if err != nil {
			if err == io.EOF {
				return nil, errors.New("fhirpath: no resource in the XML")
			}
			return nil, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Space != fhirNS {
				return nil, fmt.Errorf("fhirpath: root element %s is not in the FHIR namespace", se.Name.Local)
			}
			obj, err := c.resource(se, 0)
			if err != nil {
				return nil, err
			}
			return json.Marshal(obj)
		}
	}
}

type xmlConv struct {
	src []byte
	d   *xml.Decoder
	off int64 // offset before the last token read
}

func (c *xmlConv) next() (xml.Token, error) {
	c.off = c.d.InputOffset()
	return c.d.Token()
}

// ordered is a JSON object that keeps its members in order.
type ordered struct {
	keys []string
	vals map[string]any
}

func newOrdered() *ordered { return &ordered{vals: map[string]any{}} }

func (o *ordered) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

// MarshalJSON writes the members in order.
func (o *ordered) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(o.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// resource converts a resource element.
func (c *xmlConv) resource(se xml.StartElement, depth int) (*ordered, error) {
	t, ok := fhir.Type(se.Name.Local)
	if !ok || t.Kind != fhir.KindResource {
		return nil, fmt.Errorf("fhirpath: %s is not a resource type", se.Name.Local)
	}
	obj := newOrdered()
	obj.set("resourceType", t.Name)
	if err := c.complexContent(se, t, t.Root(), obj, depth); err != nil {
		return nil, err
	}
	return obj, nil
}

// slot gathers the repetitions of one child element.
type slot struct {
	def   *fhir.ElementDef
	vals  []any // a value or nil
	exts  []any // the _name object or nil
	anyEx bool
}

// complexContent reads the attributes and children of a complex element
// or resource into obj, until its end tag.
func (c *xmlConv) complexContent(se xml.StartElement, typ *fhir.TypeDef, def *fhir.ElementDef, obj *ordered, depth int) error {
	if depth > MaxJSONDepth {
		return errors.New("fhirpath: XML nested too deeply")
	}
	for _, a := range se.Attr {
		switch a.Name.Local {
		case "id", "url":
			if a.Name.Space == "" {
				obj.set(a.Name.Local, a.Value)
			}
		}
	}
	slots := map[string]*slot{}
	var order []string
	for {
		tok, err := c.next()
		if err != nil {
			return fmt.Errorf("fhirpath: XML: %v", err)
		}
		switch tk := tok.(type) {
		case xml.EndElement:
			for _, name := range order {
				s := slots[name]
				if s.def.IsArray() {
					vals := make([]any, len(s.vals))
					copy(vals, s.vals)
					if hasValue(s.vals) {
						obj.set(name, vals)
					}
					if s.anyEx {
						obj.set("_"+name, s.exts)
					}
				} else {
					if s.vals[0] != nil {
						obj.set(name, s.vals[0])
					}
					if s.anyEx {
						obj.set("_"+name, s.exts[0])
					}
				}
			}
			return nil
		case xml.StartElement:
			name := tk.Name.Local
			if name == "div" && tk.Name.Space == xhtmlNS {
				start := c.off
				if err := c.d.Skip(); err != nil {
					return err
				}
				s := c.slotFor(slots, &order, "div", typ, def)
				if s == nil {
					return fmt.Errorf("fhirpath: XML: unexpected div in %s", typ.Name)
				}
				s.vals, s.exts = append(s.vals, string(c.src[start:c.d.InputOffset()])), append(s.exts, nil)
				continue
			}
			s := c.slotFor(slots, &order, name, typ, def)
			if s == nil {
				return fmt.Errorf("fhirpath: XML: %s has no element %s", pathOf(typ, def), name)
			}
			_, childType, _ := childOf(typ, def, name)
			v, ext, err := c.element(tk, s.def, childType, depth+1)
			if err != nil {
				return err
			}
			s.vals = append(s.vals, v)
			s.exts = append(s.exts, ext)
			s.anyEx = s.anyEx || ext != nil
		}
	}
}

func hasValue(vals []any) bool {
	for _, v := range vals {
		if v != nil {
			return true
		}
	}
	return false
}

func pathOf(typ *fhir.TypeDef, def *fhir.ElementDef) string {
	if def != nil {
		return def.Path
	}
	return typ.Name
}

// childOf looks up a child element the way navigation does.
func childOf(typ *fhir.TypeDef, def *fhir.ElementDef, name string) (*fhir.ElementDef, string, bool) {
	if def != nil {
		if dd := def.Definition(); len(dd.Children) > 0 {
			if d, t, ok := dd.Child(name); ok {
				return d, t, true
			}
		}
	}
	if typ != nil {
		return typ.Root().Child(name)
	}
	return nil, "", false
}

func (c *xmlConv) slotFor(slots map[string]*slot, order *[]string, name string, typ *fhir.TypeDef, def *fhir.ElementDef) *slot {
	if s, ok := slots[name]; ok {
		return s
	}
	d, _, ok := childOf(typ, def, name)
	if !ok {
		return nil
	}
	s := &slot{def: d}
	slots[name] = s
	*order = append(*order, name)
	return s
}

// element converts one child element: its JSON value and, for a
// primitive, its _name object (nil when it has neither id nor
// extensions).
func (c *xmlConv) element(se xml.StartElement, def *fhir.ElementDef, typeCode string, depth int) (any, any, error) {
	t := typeOf(def, typeCode)
	if t == nil {
		return nil, nil, fmt.Errorf("fhirpath: XML: no type for %s", def.Path)
	}
	switch {
	case t.Name == "Resource" || t.Kind == fhir.KindResource:
		// A resource container: its one child element is the resource.
		var obj *ordered
		for {
			tok, err := c.next()
			if err != nil {
				return nil, nil, err
			}
			switch tk := tok.(type) {
			case xml.StartElement:
				if obj, err = c.resource(tk, depth+1); err != nil {
					return nil, nil, err
				}
			case xml.EndElement:
				if obj == nil {
					return nil, nil, nil
				}
				return obj, nil, nil
			}
		}
	case t.Kind == fhir.KindPrimitive:
		var val any
		ext := newOrdered()
		for _, a := range se.Attr {
			switch a.Name.Local {
			case "value":
				v, err := primitiveJSON(t, a.Value)
				if err != nil {
					return nil, nil, fmt.Errorf("fhirpath: XML: %s: %v", def.Path, err)
				}
				val = v
			case "id":
				ext.set("id", a.Value)
			}
		}
		var exts []any
		for {
			tok, err := c.next()
			if err != nil {
				return nil, nil, err
			}
			switch tk := tok.(type) {
			case xml.StartElement:
				if tk.Name.Local != "extension" {
					return nil, nil, fmt.Errorf("fhirpath: XML: %s has no element %s", def.Path, tk.Name.Local)
				}
				et, _ := fhir.Type("Extension")
				o := newOrdered()
				if err := c.complexContent(tk, et, et.Root(), o, depth+1); err != nil {
					return nil, nil, err
				}
				exts = append(exts, o)
			case xml.EndElement:
				if exts != nil {
					ext.set("extension", exts)
				}
				if len(ext.keys) == 0 {
					return val, nil, nil
				}
				return val, ext, nil
			}
		}
	default:
		obj := newOrdered()
		if err := c.complexContent(se, t, def, obj, depth); err != nil {
			return nil, nil, err
		}
		return obj, nil, nil
	}
}

// primitiveJSON gives a primitive's value its JSON form: booleans and
// numbers as literals (a decimal keeps its digits), the rest as strings.
func primitiveJSON(t *fhir.TypeDef, s string) (any, error) {
	switch t.SystemType {
	case "System.Boolean":
		switch s {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("bad boolean %q", s)
	case "System.Integer", "System.Decimal":
		if _, err := parseDecimal(strings.TrimSpace(s)); err != nil {
			return nil, fmt.Errorf("bad number %q", s)
		}
		return json.Number(strings.TrimSpace(s)), nil
	}
	return s, nil
}
