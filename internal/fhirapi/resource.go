package fhirapi

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhirpath"
)

// maxResource caps a resource body.
const maxResource = 32 << 20

// parsed is a resource body checked to be a JSON object of the expected
// type.
type parsed struct {
	doc   *fhirpath.Doc
	id    string               // the id in the body, "" when none
	index *concord.SearchIndex // set by readResource; nil means put computes it
}

// parseResource checks a body: JSON, an object, resourceType as the URL
// says, an id that is a FHIR id when given.
func parseResource(body []byte, typ string) (*parsed, error) {
	doc, err := fhirpath.ParseJSON(body)
	if err != nil {
		return nil, concord.Errorf(concord.EINVALID, "the body is not valid JSON: %v", err)
	}
	root := doc.Root()
	if root.Kind() != fhirpath.JSONObject {
		return nil, concord.Errorf(concord.EINVALID, "the body is not a JSON object")
	}
	rt, ok := root.Get("resourceType")
	if !ok || rt.Kind() != fhirpath.JSONString {
		return nil, concord.Errorf(concord.EINVALID, "the resource has no resourceType")
	}
	if rt.String() != typ {
		return nil, concord.Errorf(concord.EINVALID, "resourceType is %q, the URL says %s", rt.String(), typ)
	}
	p := &parsed{doc: doc}
	if id, ok := root.Get("id"); ok {
		if id.Kind() != fhirpath.JSONString || !concord.IsFHIRID(id.String()) {
			return nil, concord.Errorf(concord.EINVALID, "id is not a FHIR id (1-64 of A-Z a-z 0-9 - .)")
		}
		p.id = id.String()
	}
	return p, nil
}

// withMeta writes the resource as stored: resourceType, id and meta first
// (meta with versionId and lastUpdated set, its other members kept), then
// the other members in the order given.
func withMeta(p *parsed, id string, version int64, at time.Time) []byte {
	root := p.doc.Root()
	var b bytes.Buffer
	b.WriteString(`{"resourceType":`)
	rt, _ := root.Get("resourceType")
	b.Write(rt.JSON())
	b.WriteString(`,"id":`)
	idj, _ := json.Marshal(id)
	b.Write(idj)
	b.WriteString(`,"meta":{"versionId":"`)
	b.WriteString(strconv.FormatInt(version, 10))
	b.WriteString(`","lastUpdated":"`)
	b.WriteString(at.UTC().Format("2006-01-02T15:04:05.000Z"))
	b.WriteByte('"')
	if meta, ok := root.Get("meta"); ok && meta.Kind() == fhirpath.JSONObject {
		meta.Each(func(name string, v fhirpath.JSONRef) bool {
			if name != "versionId" && name != "lastUpdated" {
				writeMember(&b, name, v)
			}
			return true
		})
	}
	b.WriteByte('}')
	root.Each(func(name string, v fhirpath.JSONRef) bool {
		switch name {
		case "resourceType", "id", "meta":
		default:
			writeMember(&b, name, v)
		}
		return true
	})
	b.WriteByte('}')
	return b.Bytes()
}

// writeMember appends ,"name":value with the value as written.
func writeMember(b *bytes.Buffer, name string, v fhirpath.JSONRef) {
	nj, _ := json.Marshal(name)
	b.WriteByte(',')
	b.Write(nj)
	b.WriteByte(':')
	b.Write(v.JSON())
}
