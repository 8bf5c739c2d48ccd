package fhirpath

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseJSON(t *testing.T) {
	src := `{"resourceType":"Patient","id":"syn-1","active":true,"deceasedBoolean":false,"multipleBirthInteger":2,
	"name":[{"family":"Synthetic","given":["Pat","Q\u00e9"]},{"text":"a\"b\\c\n\ud83d\ude00"}],"x":null,"n":-1.50e+2,"empty":{},"arr":[]}`
	d, err := ParseJSON([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	root := d.Root()
	if root.Kind() != JSONObject || root.Len() != 10 {
		t.Fatalf("root %v %d", root.Kind(), root.Len())
	}
	get := func(r JSONRef, name string) JSONRef {
		t.Helper()
		v, ok := r.Get(name)
		if !ok {
			t.Fatalf("no %s", name)
		}
		return v
	}
	if get(root, "id").String() != "syn-1" || get(root, "active").Kind() != JSONTrue || get(root, "deceasedBoolean").Kind() != JSONFalse ||
		get(root, "x").Kind() != JSONNull || get(root, "empty").Len() != 0 || get(root, "arr").Len() != 0 {
		t.Fatal("scalars")
	}
	if n, err := get(root, "n").Number(); err != nil || n != -150 {
		t.Fatalf("number %v %v", n, err)
	}
	names := get(root, "name")
	second, _ := names.Index(1)
	if s := get(second, "text").String(); s != "a\"b\\c\n😀" {
		t.Fatalf("escaped %q", s)
	}
	first, _ := names.Index(0)
	given, _ := get(first, "given").Index(1)
	if given.String() != "Qé" {
		t.Fatalf("given %q", given.String())
	}
	var keys []string
	root.Each(func(name string, v JSONRef) bool { keys = append(keys, name); return len(keys) < 3 })
	if strings.Join(keys, ",") != "resourceType,id,active" {
		t.Fatalf("keys %v", keys)
	}
	if _, ok := root.Get("nope"); ok {
		t.Fatal("found a missing member")
	}
	if _, ok := names.Index(2); ok {
		t.Fatal("found a missing element")
	}
}

func TestParseJSONErrors(t *testing.T) {
	for in, want := range map[string]string{
		``:              "unexpected end",
		`{"a":1,}`:      "want a member name",
		`{"a" 1}`:       "want ':'",
		`[1 2]`:         "want ',' or ']'",
		`{"a":1 "b":2}`: "want ',' or '}'",
		`"open`:         "not closed",
		"\"tab\there\"": "control character",
		`"\x"`:          "bad escape",
		`"\u12G4"`:      "bad \\u escape",
		`01`:            "data after",
		`-`:             "bad number",
		`1.`:            "bad number",
		`1e`:            "bad number",
		`tru`:           "unexpected character",
		`{} {}`:         "data after",
		"\"\xff\"":      "not UTF-8",
		strings.Repeat("[", MaxJSONDepth+1) + strings.Repeat("]", MaxJSONDepth+1): "nested deeper",
	} {
		if _, err := ParseJSON([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.30q: %v, want %q", in, err, want)
		}
	}
}

// TestParseJSONAgreesWithEncodingJSON: every shared FHIR example and
// Synthea bundle indexes, and every string and member reads as
// encoding/json decodes it.
func TestParseJSONAgreesWithEncodingJSON(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "shared", "data", "fhirpath", "r5", "*.json"))
	synthea, _ := filepath.Glob(filepath.Join("..", "..", "shared", "data", "synthea", "*.json"))
	files = append(files, synthea...)
	if len(files) == 0 {
		t.Skip("shared test data not present")
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d, err := ParseJSON(src)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var want any
		if err := json.Unmarshal(src, &want); err != nil {
			t.Fatal(err)
		}
		if got := toAny(d.Root()); !equalJSON(got, want) {
			t.Fatalf("%s: the index reads differently from encoding/json", f)
		}
	}
}

// toAny converts a value to what encoding/json would decode.
func toAny(r JSONRef) any {
	switch r.Kind() {
	case JSONNull:
		return nil
	case JSONTrue:
		return true
	case JSONFalse:
		return false
	case JSONNumber:
		n, _ := r.Number()
		return n
	case JSONString:
		return r.String()
	case JSONArray:
		out := []any{}
		r.Each(func(_ string, v JSONRef) bool { out = append(out, toAny(v)); return true })
		return out
	}
	out := map[string]any{}
	r.Each(func(k string, v JSONRef) bool { out[k] = toAny(v); return true })
	return out
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestJSONStringsOutliveSource: strings read from a Doc are its own (no
// allocation each, but not aliases of the caller's bytes either), so a
// caller reusing its buffer afterwards does not change them; concurrent
// readers of one Doc agree.
func TestJSONStringsOutliveSource(t *testing.T) {
	buf := []byte(`{"id":"syn-7","given":["Pat","Q\u00e9"],"n":12.5}`)
	d, err := ParseJSON(buf)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 8)
	for range 8 {
		go func() {
			id, _ := d.Root().Get("id")
			n, _ := d.Root().Get("n")
			done <- id.String() + "/" + n.String()
		}()
	}
	for range 8 {
		if got := <-done; got != "syn-7/12.5" {
			t.Fatalf("concurrent read %q", got)
		}
	}
	id, _ := d.Root().Get("id")
	s := id.String()
	if allocs := testing.AllocsPerRun(100, func() { s = id.String() }); allocs != 0 {
		t.Errorf("reading a string without escapes allocates %v times", allocs)
	}
	for i := range buf {
		buf[i] = 'x'
	}
	if s != "syn-7" {
		t.Errorf("a string read before the caller reused its buffer changed to %q", s)
	}
}

// TestJSONMemberKeys: members are found by name whether or not their key
// is written with escapes, and a primitive's _name twin likewise.
func TestJSONMemberKeys(t *testing.T) {
	d, err := ParseJSON([]byte(`{"birthDate":"1970","_birth\u0044ate":{"id":"b1"},"a\u0062":2,"_x":3,"x_":4}`))
	if err != nil {
		t.Fatal(err)
	}
	root := d.Root()
	for _, c := range []struct {
		name  string
		ext   bool
		found string
	}{
		{"birthDate", false, "1970"}, {"birthDate", true, `{"id":"b1"}`}, {"ab", false, "2"}, {"x", true, "3"},
		{"x_", false, "4"}, {"x", false, ""}, {"ab", true, ""}, {"_x", false, "3"},
	} {
		get := root.Get
		if c.ext {
			get = root.getExtension
		}
		v, ok := get(c.name)
		got := ""
		if ok {
			got = string(v.Raw())
		}
		if got != c.found {
			t.Errorf("%s (twin %v): %q %v, want %q", c.name, c.ext, got, ok, c.found)
		}
	}
}
