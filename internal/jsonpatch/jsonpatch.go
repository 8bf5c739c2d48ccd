// Package jsonpatch applies JSON Patch documents (RFC 6902) to JSON
// values, with JSON Pointers (RFC 6901): add, remove, replace, move, copy
// and test. A patch is applied to a copy, all or nothing.
package jsonpatch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Limits on what Apply accepts.
const (
	MaxOperations = 10_000
	MaxDepth      = 256
)

// Error is a patch that is malformed or cannot be applied; Op is the
// index of the operation at fault (-1 for the document).
type Error struct {
	Op  int
	Msg string
}

func (e *Error) Error() string {
	if e.Op < 0 {
		return "json patch: " + e.Msg
	}
	return fmt.Sprintf("json patch operation %d: %s", e.Op, e.Msg)
}

type operation struct {
	Op    string          `json:"op"`
	Path  *string         `json:"path"`
	From  *string         `json:"from"`
	Value json.RawMessage `json:"value"`
}

// Apply applies patch to doc and returns the result, or an *Error.
// Numbers keep their text.
func Apply(doc, patch []byte) ([]byte, error) {
	var ops []operation
	dec := json.NewDecoder(bytes.NewReader(patch))
	if err := dec.Decode(&ops); err != nil {
		return nil, &Error{Op: -1, Msg: "not a JSON array of operations: " + err.Error()}
	}
	if len(ops) > MaxOperations {
		return nil, &Error{Op: -1, Msg: fmt.Sprintf("more than %d operations", MaxOperations)}
	}
	v, err := decode(doc)
	if err != nil {
		return nil, &Error{Op: -1, Msg: "the document is not JSON: " + err.Error()}
	}
	for i, op := range ops {
		if op.Path == nil {
			return nil, &Error{Op: i, Msg: "no path"}
		}
		path, err := parsePointer(*op.Path)
		if err != nil {
			return nil, &Error{Op: i, Msg: err.Error()}
		}
		value := func() (any, error) {
			if op.Value == nil {
				return nil, errors.New("no value")
			}
			return decode(op.Value)
		}
		from := func() ([]string, error) {
			if op.From == nil {
				return nil, errors.New("no from")
			}
			return parsePointer(*op.From)
		}
		switch op.Op {
		case "add":
			var x any
			if x, err = value(); err == nil {
				v, err = add(v, path, x)
			}
		case "remove":
			v, _, err = remove(v, path)
		case "replace":
			var x any
			if x, err = value(); err == nil {
				if v, _, err = remove(v, path); err == nil {
					v, err = add(v, path, x)
				}
			}
		case "move":
			var f []string
			if f, err = from(); err == nil {
				if len(f) < len(path) && reflect.DeepEqual(f, path[:len(f)]) {
					err = errors.New("cannot move a value into itself")
				} else {
					var x any
					if v, x, err = remove(v, f); err == nil {
						v, err = add(v, path, x)
					}
				}
			}
		case "copy":
			var f []string
			if f, err = from(); err == nil {
				var x any
				if x, err = get(v, f); err == nil {
					v, err = add(v, path, deepCopy(x))
				}
			}
		case "test":
			var want, got any
			if want, err = value(); err == nil {
				if got, err = get(v, path); err == nil && !equal(got, want) {
					err = fmt.Errorf("test failed at %q", *op.Path)
				}
			}
		default:
			err = fmt.Errorf("unknown op %q", op.Op)
		}
		if err != nil {
			return nil, &Error{Op: i, Msg: err.Error()}
		}
	}
	return json.Marshal(v)
}

// decode reads JSON keeping numbers as json.Number, checking depth.
func decode(b []byte) (any, error) {
	depth, max := 0, 0
	for _, c := range b {
		switch c {
		case '[', '{':
			depth++
			if depth > max {
				max = depth
			}
		case ']', '}':
			depth--
		}
	}
	if max > MaxDepth { // a cheap upper bound: brackets inside strings count too
		return nil, fmt.Errorf("nested deeper than %d", MaxDepth)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the value")
	}
	return v, nil
}

// parsePointer splits a JSON Pointer into its reference tokens.
func parsePointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if p[0] != '/' {
		return nil, fmt.Errorf("pointer %q does not start with /", p)
	}
	parts := strings.Split(p[1:], "/")
	for i, s := range parts {
		if strings.Contains(strings.ReplaceAll(strings.ReplaceAll(s, "~0", ""), "~1", ""), "~") {
			return nil, fmt.Errorf("pointer %q has a bad escape", p)
		}
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

// get returns the value at path.
func get(v any, path []string) (any, error) {
	for _, tok := range path {
		switch c := v.(type) {
		case map[string]any:
			x, ok := c[tok]
			if !ok {
				return nil, fmt.Errorf("no member %q", tok)
			}
			v = x
		case []any:
			i, err := index(tok, len(c), false)
			if err != nil {
				return nil, err
			}
			v = c[i]
		default:
			return nil, fmt.Errorf("%q: not an object or array", tok)
		}
	}
	return v, nil
}

// parentOf returns the value holding the last token of a non-empty path,
// and that token.
func parentOf(root any, path []string) (any, string, error) {
	parent, err := get(root, path[:len(path)-1])
	return parent, path[len(path)-1], err
}

// add sets the value at path (inserting into an array), returning the
// new root.
func add(root any, path []string, x any) (any, error) {
	if len(path) == 0 {
		return x, nil
	}
	parent, last, err := parentOf(root, path)
	if err != nil {
		return nil, err
	}
	switch c := parent.(type) {
	case map[string]any:
		c[last] = x
		return root, nil
	case []any:
		i, err := index(last, len(c), true)
		if err != nil {
			return nil, err
		}
		c = append(c, nil)
		copy(c[i+1:], c[i:])
		c[i] = x
		return set(root, path[:len(path)-1], c)
	}
	return nil, fmt.Errorf("%q: the parent is not an object or array", last)
}

// remove deletes the value at path, returning the new root and the value.
func remove(root any, path []string) (any, any, error) {
	if len(path) == 0 {
		return nil, nil, errors.New("cannot remove the whole document")
	}
	parent, last, err := parentOf(root, path)
	if err != nil {
		return nil, nil, err
	}
	switch c := parent.(type) {
	case map[string]any:
		x, ok := c[last]
		if !ok {
			return nil, nil, fmt.Errorf("no member %q", last)
		}
		delete(c, last)
		return root, x, nil
	case []any:
		i, err := index(last, len(c), false)
		if err != nil {
			return nil, nil, err
		}
		x := c[i]
		c = append(c[:i:i], c[i+1:]...)
		r, err := set(root, path[:len(path)-1], c)
		return r, x, err
	}
	return nil, nil, fmt.Errorf("%q: the parent is not an object or array", last)
}

// set replaces the value at path (which exists) and returns the root.
func set(root any, path []string, x any) (any, error) {
	if len(path) == 0 {
		return x, nil
	}
	parent, last, err := parentOf(root, path)
	if err != nil {
		return nil, err
	}
	switch c := parent.(type) {
	case map[string]any:
		c[last] = x
	case []any:
		i, err := index(last, len(c), false)
		if err != nil {
			return nil, err
		}
		c[i] = x
	}
	return root, nil
}

// index reads an array index; "-" (the end) only when adding.
func index(tok string, n int, adding bool) (int, error) {
	if tok == "-" && adding {
		return n, nil
	}
	if tok == "" || (len(tok) > 1 && tok[0] == '0') {
		return 0, fmt.Errorf("bad array index %q", tok)
	}
	i, err := strconv.Atoi(tok)
	limit := n - 1
	if adding {
		limit = n
	}
	if err != nil || i < 0 || i > limit {
		return 0, fmt.Errorf("array index %q out of range", tok)
	}
	return i, nil
}

func deepCopy(v any) any {
	switch c := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(c))
		for k, x := range c {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(c))
		for i, x := range c {
			s[i] = deepCopy(x)
		}
		return s
	}
	return v
}

// equal compares JSON values; numbers by value.
func equal(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		fa, e1 := x.Float64()
		fb, e2 := y.Float64()
		return e1 == nil && e2 == nil && fa == fb
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !equal(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}
