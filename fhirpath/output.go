package fhirpath

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// MarshalJSON writes a collection as a JSON array: System values as JSON
// values (a Quantity as a FHIR Quantity), elements of a document as their
// FHIR JSON, primitives without a value as null.
func (c Collection) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, v := range c {
		if i > 0 {
			b.WriteByte(',')
		}
		j, err := v.MarshalJSON()
		if err != nil {
			return nil, err
		}
		b.Write(j)
	}
	b.WriteByte(']')
	return b.Bytes(), nil
}

// MarshalJSON writes one value as JSON.
func (v Value) MarshalJSON() ([]byte, error) {
	if v.isNode() {
		if v.ref.doc == nil {
			return []byte("null"), nil
		}
		return append([]byte(nil), v.ref.JSON()...), nil
	}
	switch v.kind {
	case KindBoolean:
		return strconv.AppendBool(nil, v.bool()), nil
	case KindInteger, KindLong:
		return strconv.AppendInt(nil, v.i, 10), nil
	case KindDecimal:
		return []byte(v.decimal().String()), nil
	case KindQuantity:
		q := map[string]any{"value": json.Number(v.decimal().String()), "unit": v.s}
		if !calendarUnits[v.s] {
			q["system"], q["code"] = "http://unitsofmeasure.org", v.s
		}
		return json.Marshal(q)
	case KindTypeInfo:
		return json.Marshal(map[string]string{"type": v.s})
	}
	return json.Marshal(v.s)
}
