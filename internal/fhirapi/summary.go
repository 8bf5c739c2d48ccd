package fhirapi

import (
	"bytes"
	"net/url"
	"strings"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhir"
	"github.com/concord-health/concord/fhirpath"
)

// The tag a subsetted resource carries (FHIR R4 search.html#summary).
const (
	subsettedSystem = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
	subsettedCode   = "SUBSETTED"
)

// _summary values (FHIR R4 search.html#summary).
const (
	summaryTrue  = "true"  // elements marked summary, and mandatory ones
	summaryText  = "text"  // text, id, meta and top-level mandatory elements
	summaryData  = "data"  // everything but text
	summaryFalse = "false" // everything
	summaryCount = "count" // search only: the count, no resources
)

// subset is what _summary and _elements ask to keep of each resource.
type subset struct {
	summary  string          // one of the summary* values, or "" when absent
	elements map[string]bool // names from _elements; nil when absent
}

// parseSubset reads _summary and _elements. _summary=count is accepted
// here (search answers it); a read refuses it in shape.
func parseSubset(q url.Values) (subset, error) {
	var s subset
	if vs := q["_summary"]; len(vs) > 0 {
		if len(vs) > 1 {
			return s, concord.Errorf(concord.EINVALID, "_summary is given more than once")
		}
		switch vs[0] {
		case summaryTrue, summaryText, summaryData, summaryFalse, summaryCount:
			s.summary = vs[0]
		default:
			return s, concord.Errorf(concord.EINVALID, "_summary %q is not one of true, text, data, count, false", vs[0])
		}
	}
	if vs, ok := q["_elements"]; ok {
		s.elements = map[string]bool{}
		for _, v := range vs {
			for _, name := range strings.Split(v, ",") {
				if name = strings.TrimSpace(name); name != "" {
					s.elements[name] = true
				}
			}
		}
		if s.summary != "" && s.summary != summaryFalse {
			return s, concord.Errorf(concord.EINVALID, "_summary=%s and _elements cannot be used together", s.summary)
		}
	}
	return s, nil
}

// count tells whether only the number of matches is asked for.
func (s subset) count() bool { return s.summary == summaryCount }

// whole tells whether resources are returned as stored.
func (s subset) whole() bool {
	return s.elements == nil && (s.summary == "" || s.summary == summaryFalse)
}

// shape returns a stored resource (typ, as withMeta wrote it) as
// _summary and _elements in q ask: unchanged when they ask for the whole
// resource, else the kept elements with meta.tag SUBSETTED added. A bad
// _summary, or _summary=count (search only), is EINVALID. Search applies
// the same rules to each entry through parseSubset and subset.apply.
func shape(content []byte, typ string, q url.Values) ([]byte, error) {
	s, err := parseSubset(q)
	if err != nil {
		return nil, err
	}
	if s.count() {
		return nil, concord.Errorf(concord.EINVALID, "_summary=count is for searches; a read returns a resource")
	}
	return s.apply(content, typ)
}

// apply returns content subsetted as s says. Members that are not
// elements of typ are dropped from a subset, except under _summary=data.
func (s subset) apply(content []byte, typ string) ([]byte, error) {
	if s.whole() || s.count() {
		return content, nil
	}
	t, ok := fhir.Type(typ)
	if !ok {
		return nil, concord.Errorf(concord.EINTERNAL, "%s is not a FHIR type", typ)
	}
	doc, err := fhirpath.ParseJSON(content)
	if err != nil {
		return nil, concord.WrapError(concord.EINTERNAL, err, "stored %s is not JSON", typ)
	}
	root := doc.Root()
	if root.Kind() != fhirpath.JSONObject {
		return nil, concord.Errorf(concord.EINTERNAL, "stored %s is not a JSON object", typ)
	}
	var keep func(name string, def *fhir.ElementDef) bool
	deep := false // _summary=true applies to the elements of backbone elements too
	switch {
	case s.elements != nil:
		keep = func(name string, def *fhir.ElementDef) bool {
			return def != nil && (def.Min > 0 || s.elements[name] || s.elements[typ+"."+name] ||
				s.elements[baseName(def)] || s.elements[typ+"."+baseName(def)])
		}
	case s.summary == summaryTrue:
		keep = func(_ string, def *fhir.ElementDef) bool {
			return def != nil && (def.IsSummary || def.IsModifier || def.Min > 0)
		}
		deep = true
	case s.summary == summaryText:
		keep = func(name string, def *fhir.ElementDef) bool {
			return def != nil && (name == "text" || def.Min > 0)
		}
	case s.summary == summaryData:
		keep = func(name string, _ *fhir.ElementDef) bool { return name != "text" }
	}

	var b bytes.Buffer
	b.WriteString(`{"resourceType":`)
	b.Write(mustGet(root, "resourceType").JSON())
	if id, ok := root.Get("id"); ok {
		b.WriteString(`,"id":`)
		b.Write(id.JSON())
	}
	b.WriteString(`,"meta":`)
	writeSubsettedMeta(&b, root)
	root.Each(func(name string, v fhirpath.JSONRef) bool {
		switch name {
		case "resourceType", "id", "meta":
			return true
		case "_id":
			writeMember(&b, name, v)
			return true
		}
		def, _, _ := t.Root().Child(strings.TrimPrefix(name, "_"))
		if !keep(strings.TrimPrefix(name, "_"), def) {
			return true
		}
		if deep && def != nil {
			writeMemberFiltered(&b, name, v, def, keep)
		} else {
			writeMember(&b, name, v)
		}
		return true
	})
	b.WriteByte('}')
	return b.Bytes(), nil
}

// baseName is an element's name without a choice suffix (value for
// value[x]), as _elements names choice elements.
func baseName(def *fhir.ElementDef) string { return strings.TrimSuffix(def.Name, "[x]") }

func mustGet(r fhirpath.JSONRef, name string) fhirpath.JSONRef {
	v, _ := r.Get(name)
	return v
}

// writeSubsettedMeta writes the resource's meta with the SUBSETTED tag
// added to its tags (once).
func writeSubsettedMeta(b *bytes.Buffer, root fhirpath.JSONRef) {
	tag := `{"system":"` + subsettedSystem + `","code":"` + subsettedCode + `"}`
	b.WriteByte('{')
	first := true
	sep := func() {
		if !first {
			b.WriteByte(',')
		}
		first = false
	}
	tagged := false
	if meta, ok := root.Get("meta"); ok && meta.Kind() == fhirpath.JSONObject {
		meta.Each(func(name string, v fhirpath.JSONRef) bool {
			sep()
			writeJSON(b, name)
			b.WriteByte(':')
			if name != "tag" {
				b.Write(v.JSON())
				return true
			}
			tagged = true
			if v.Kind() != fhirpath.JSONArray { // not FHIR: replaced
				b.WriteString("[" + tag + "]")
				return true
			}
			b.WriteByte('[')
			have := false
			for i := 0; i < v.Len(); i++ {
				t, _ := v.Index(i)
				if i > 0 {
					b.WriteByte(',')
				}
				b.Write(t.JSON())
				if sys, ok := t.Get("system"); ok && sys.String() == subsettedSystem {
					if c, ok := t.Get("code"); ok && c.String() == subsettedCode {
						have = true
					}
				}
			}
			if !have {
				if v.Len() > 0 {
					b.WriteByte(',')
				}
				b.WriteString(tag)
			}
			b.WriteByte(']')
			return true
		})
	}
	if !tagged {
		sep()
		b.WriteString(`"tag":[` + tag + `]`)
	}
	b.WriteByte('}')
}

// writeMemberFiltered writes ,"name":value keeping, inside backbone
// elements (elements whose children are defined in the resource), only
// the children keep accepts. Values of data types are written whole.
func writeMemberFiltered(b *bytes.Buffer, name string, v fhirpath.JSONRef, def *fhir.ElementDef, keep func(string, *fhir.ElementDef) bool) {
	b.WriteByte(',')
	writeJSON(b, name)
	b.WriteByte(':')
	writeFiltered(b, v, def, keep)
}

func writeFiltered(b *bytes.Buffer, v fhirpath.JSONRef, def *fhir.ElementDef, keep func(string, *fhir.ElementDef) bool) {
	body := def.Definition()
	if len(body.Children) == 0 {
		b.Write(v.JSON())
		return
	}
	switch v.Kind() {
	case fhirpath.JSONArray:
		b.WriteByte('[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			item, _ := v.Index(i)
			writeFiltered(b, item, def, keep)
		}
		b.WriteByte(']')
	case fhirpath.JSONObject:
		b.WriteByte('{')
		first := true
		v.Each(func(name string, cv fhirpath.JSONRef) bool {
			cdef, _, _ := body.Child(strings.TrimPrefix(name, "_"))
			if !keep(strings.TrimPrefix(name, "_"), cdef) {
				return true
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			writeJSON(b, name)
			b.WriteByte(':')
			writeFiltered(b, cv, cdef, keep)
			return true
		})
		b.WriteByte('}')
	default:
		b.Write(v.JSON())
	}
}
