package fhirapi

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/concord-health/concord/fhirpath"
)

// rewriteFunc maps the value of a reference member to the value to store
// (the same string when it is left alone), or fails the write.
type rewriteFunc func(ref string) (string, error)

// storedJSON writes a resource as stored, in the layout withMeta uses
// (resourceType, id, meta with versionId and lastUpdated, then the other
// members in the order given), compact, with every "reference" member
// anywhere in it (contained resources and extensions included) passed
// through rewrite when rewrite is not nil. It reads the JSON index once
// and writes the result once.
func storedJSON(root fhirpath.JSONRef, id string, version int64, at time.Time, rewrite rewriteFunc) ([]byte, error) {
	tail, err := storedTail(root, rewrite)
	if err != nil {
		return nil, err
	}
	return withStoredHead(root, id, version, at, tail), nil
}

// withStoredHead returns the stored JSON whose members after
// meta.lastUpdated are tail (from storedTail): the head (resourceType,
// id, versionId and lastUpdated) is the only part that depends on the
// version, so a Bundle entry's tail can be written before the store
// transaction and the head inside it.
func withStoredHead(root fhirpath.JSONRef, id string, version int64, at time.Time, tail []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(tail) + len(id) + 96)
	b.WriteString(`{"resourceType":`)
	rt, _ := root.Get("resourceType")
	b.Write(rt.JSON())
	b.WriteString(`,"id":`)
	writeJSONString(&b, id)
	b.WriteString(`,"meta":{"versionId":"`)
	b.WriteString(strconv.FormatInt(version, 10))
	b.WriteString(`","lastUpdated":"`)
	b.WriteString(at.UTC().Format("2006-01-02T15:04:05.000Z"))
	b.WriteByte('"')
	b.Write(tail)
	return b.Bytes()
}

// storedTail writes what follows meta.lastUpdated in the stored JSON: the
// rest of meta, then the other members in the order given, with every
// "reference" member passed through rewrite when rewrite is not nil.
func storedTail(root fhirpath.JSONRef, rewrite rewriteFunc) ([]byte, error) {
	w := jsonWriter{rewrite: rewrite}
	w.b.Grow(len(root.JSON()) + 16)
	if meta, ok := root.Get("meta"); ok && meta.Kind() == fhirpath.JSONObject {
		meta.Each(func(name string, v fhirpath.JSONRef) bool {
			if name != "versionId" && name != "lastUpdated" {
				w.b.WriteByte(',')
				w.member(name, v)
			}
			return w.err == nil
		})
	}
	w.b.WriteByte('}')
	root.Each(func(name string, v fhirpath.JSONRef) bool {
		switch name {
		case "resourceType", "id", "meta":
		default:
			w.b.WriteByte(',')
			w.member(name, v)
		}
		return w.err == nil
	})
	w.b.WriteByte('}')
	if w.err != nil {
		return nil, w.err
	}
	return w.b.Bytes(), nil
}

// jsonWriter copies indexed JSON compactly, rewriting references.
type jsonWriter struct {
	b       bytes.Buffer
	rewrite rewriteFunc
	err     error
}

func (w *jsonWriter) member(name string, v fhirpath.JSONRef) {
	w.str(name)
	w.b.WriteByte(':')
	if name == "reference" && w.rewrite != nil && v.Kind() == fhirpath.JSONString {
		ref := v.String()
		to, err := w.rewrite(ref)
		if err != nil {
			w.err = err
			return
		}
		if to != ref {
			w.str(to)
			return
		}
	}
	w.value(v)
}

func (w *jsonWriter) value(v fhirpath.JSONRef) {
	switch v.Kind() {
	case fhirpath.JSONObject:
		w.b.WriteByte('{')
		first := true
		v.Each(func(name string, m fhirpath.JSONRef) bool {
			if !first {
				w.b.WriteByte(',')
			}
			first = false
			w.member(name, m)
			return w.err == nil
		})
		w.b.WriteByte('}')
	case fhirpath.JSONArray:
		w.b.WriteByte('[')
		first := true
		v.Each(func(_ string, e fhirpath.JSONRef) bool {
			if !first {
				w.b.WriteByte(',')
			}
			first = false
			w.value(e)
			return w.err == nil
		})
		w.b.WriteByte(']')
	default:
		w.b.Write(v.JSON())
	}
}

// str writes s as a JSON string.
func (w *jsonWriter) str(s string) { writeJSONString(&w.b, s) }

// writeJSONString writes s as a JSON string.
func writeJSONString(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			j, _ := json.Marshal(s)
			b.Write(j)
			return
		}
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}
