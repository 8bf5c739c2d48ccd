package jsonpatch

import (
	"encoding/json"
	"errors"
	"testing"
)

// TestRFC6902Examples runs the examples of RFC 6902 appendix A.
func TestRFC6902Examples(t *testing.T) {
	for _, c := range []struct{ doc, patch, want string }{
		{`{"foo":"bar"}`, `[{"op":"add","path":"/baz","value":"qux"}]`, `{"baz":"qux","foo":"bar"}`},
		{`{"foo":["bar","baz"]}`, `[{"op":"add","path":"/foo/1","value":"qux"}]`, `{"foo":["bar","qux","baz"]}`},
		{`{"baz":"qux","foo":"bar"}`, `[{"op":"remove","path":"/baz"}]`, `{"foo":"bar"}`},
		{`{"foo":["bar","qux","baz"]}`, `[{"op":"remove","path":"/foo/1"}]`, `{"foo":["bar","baz"]}`},
		{`{"baz":"qux","foo":"bar"}`, `[{"op":"replace","path":"/baz","value":"boo"}]`, `{"baz":"boo","foo":"bar"}`},
		{`{"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}}`, `[{"op":"move","from":"/foo/waldo","path":"/qux/thud"}]`,
			`{"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}}`},
		{`{"foo":["all","grass","cows","eat"]}`, `[{"op":"move","from":"/foo/1","path":"/foo/3"}]`, `{"foo":["all","cows","eat","grass"]}`},
		{`{"baz":"qux","foo":["a",2,"c"]}`, `[{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}]`, `{"baz":"qux","foo":["a",2,"c"]}`},
		{`{"foo":"bar"}`, `[{"op":"add","path":"/child","value":{"grandchild":{}}}]`, `{"child":{"grandchild":{}},"foo":"bar"}`},
		{`{"foo":["bar"]}`, `[{"op":"add","path":"/foo/-","value":["abc","def"]}]`, `{"foo":["bar",["abc","def"]]}`},
		{`{"/":9,"~1":10}`, `[{"op":"test","path":"/~01","value":10}]`, `{"/":9,"~1":10}`},
		{`{"a":1.50}`, `[{"op":"copy","from":"/a","path":"/b"}]`, `{"a":1.50,"b":1.50}`},
	} {
		got, err := Apply([]byte(c.doc), []byte(c.patch))
		if err != nil {
			t.Errorf("%s on %s: %v", c.patch, c.doc, err)
			continue
		}
		if string(got) != c.want {
			t.Errorf("%s on %s = %s, want %s", c.patch, c.doc, got, c.want)
		}
	}
}

func TestErrors(t *testing.T) {
	for _, c := range []struct{ doc, patch string }{
		{`{"baz":"qux"}`, `[{"op":"test","path":"/baz","value":"bar"}]`},
		{`{"foo":"bar"}`, `[{"op":"add","path":"/baz/bat","value":"qux"}]`},
		{`{"foo":"bar"}`, `[{"op":"remove","path":"/nope"}]`},
		{`{"foo":[1]}`, `[{"op":"add","path":"/foo/5","value":1}]`},
		{`{"foo":[1]}`, `[{"op":"remove","path":"/foo/01"}]`},
		{`{"foo":"bar"}`, `[{"op":"jump","path":"/foo"}]`},
		{`{"foo":"bar"}`, `[{"op":"add","value":1}]`},
		{`{"foo":"bar"}`, `[{"op":"add","path":"foo","value":1}]`},
		{`{"a":{"b":1}}`, `[{"op":"move","from":"/a","path":"/a/c"}]`},
		{`{"foo":"bar"}`, `{"op":"add"}`},
		{`{"foo":"bar"}`, `[{"op":"remove","path":""}]`},
	} {
		_, err := Apply([]byte(c.doc), []byte(c.patch))
		var pe *Error
		if err == nil || !errors.As(err, &pe) {
			t.Errorf("%s on %s: %v, want a patch error", c.patch, c.doc, err)
		}
	}
}

// FuzzApply: no patch or document crashes Apply, and what it returns is
// JSON.
func FuzzApply(f *testing.F) {
	f.Add([]byte(`{"foo":["bar","baz"],"n":1.5}`), []byte(`[{"op":"add","path":"/foo/1","value":"qux"},{"op":"move","from":"/n","path":"/m"}]`))
	f.Add([]byte(`[1,[2,[3]]]`), []byte(`[{"op":"copy","from":"/1","path":"/1/1/-"},{"op":"test","path":"/0","value":1}]`))
	f.Add([]byte(`{"a":{}}`), []byte(`[{"op":"replace","path":"","value":{"x":[]}}]`))
	f.Fuzz(func(t *testing.T, doc, patch []byte) {
		out, err := Apply(doc, patch)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON %q", out)
		}
	})
}
