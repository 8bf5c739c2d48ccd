package terminology

import "testing"

// FuzzConceptMap: no ConceptMap content panics the parser or a lookup in
// the snapshot it builds.
func FuzzConceptMap(f *testing.F) {
	f.Add([]byte(`{"resourceType":"ConceptMap","id":"x","status":"active","group":[{"source":"urn:a","target":"urn:b",`+
		`"element":[{"code":"A","target":[{"code":"B","equivalence":"equal"}]}],"unmapped":{"mode":"provided"}}]}`), "A")
	f.Add([]byte(`{"resourceType":"ConceptMap","useContext":[{"code":{"system":"urn:concord:usage-context-type","code":"sender"}}]}`), "")
	f.Add([]byte(`{"resourceType":"ConceptMap","group":[{"source":"urn:a","target":"urn:b","unmapped":{"mode":"fixed","code":"Z"}}]}`), "Q")
	f.Add([]byte(`[]`), "A")
	f.Fuzz(func(t *testing.T, content []byte, code string) {
		pm := parseConceptMap(content)
		var maps []*parsedMap
		if pm != nil {
			maps = append(maps, pm)
		}
		s := buildSnapshot(maps)
		for _, sender := range []string{"", "S", "S^F"} {
			s.resolve(sender, "urn:a", code)
			s.resolve(sender, "L", code)
		}
	})
}
