package validate

import (
	"bytes"
	"math"
	"regexp"
	"strconv"
	"sync"

	"github.com/concord-health/concord/fhir"
	"github.com/concord-health/concord/fhirpath"
)

// maxString is the longest string value R4 allows (1 MB).
const maxString = 1 << 20

// patterns holds each primitive type's regular expression, anchored,
// compiled once.
var patterns = sync.OnceValue(func() map[string]*regexp.Regexp {
	m := map[string]*regexp.Regexp{}
	for _, t := range fhir.Types() {
		if t.Kind == fhir.KindPrimitive && t.Regex != "" {
			if re, err := regexp.Compile(`^(?:` + t.Regex + `)$`); err == nil {
				m[t.Name] = re
			}
		}
	}
	return m
})

// primitive checks a primitive's JSON value: its JSON kind, then its
// text against the type's format.
func (v *validator) primitive(val fhirpath.JSONRef, t *fhir.TypeDef) {
	switch t.SystemType {
	case "System.Boolean":
		if k := val.Kind(); k != fhirpath.JSONTrue && k != fhirpath.JSONFalse {
			v.errorf(CodeStructure, "a %s must be a JSON boolean, not %s", t.Name, kindName(k))
		}
		return
	case "System.Integer", "System.Decimal":
		if val.Kind() != fhirpath.JSONNumber {
			v.errorf(CodeStructure, "a %s must be a JSON number, not %s", t.Name, kindName(val.Kind()))
			return
		}
		raw := string(val.Raw())
		if re := patterns()[t.Name]; re != nil && !re.MatchString(raw) {
			v.errorf(CodeValue, "%s is not a valid %s", clip(raw), t.Name)
			return
		}
		if t.SystemType == "System.Integer" {
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil || n < math.MinInt32 || n > math.MaxInt32 {
				v.errorf(CodeValue, "%s is out of range for a %s (32 bits)", clip(raw), t.Name)
			}
		}
		return
	}
	if val.Kind() != fhirpath.JSONString {
		v.errorf(CodeStructure, "a %s must be a JSON string, not %s", t.Name, kindName(val.Kind()))
		return
	}
	raw := val.Raw()
	if len(raw) == 0 {
		v.errorf(CodeValue, "a %s must not be an empty string (leave the element out)", t.Name)
		return
	}
	if len(raw) > maxString && t.Name != "base64Binary" && t.Name != "xhtml" {
		v.errorf(CodeValue, "a %s is at most %d bytes", t.Name, maxString)
		return
	}
	switch t.Name {
	case "xhtml":
		return // txt-1 and txt-2 check the narrative
	case "string", "markdown":
		// [ \r\n\t\S]+: anything but a form feed. Escapes are checked
		// only when there is a backslash.
		if hasFormFeed(val, raw) {
			v.errorf(CodeValue, "a %s must not contain a form feed", t.Name)
		}
		return
	case "base64Binary":
		if bytes.IndexByte(raw, '\\') >= 0 {
			raw = []byte(val.String()) // escaped line breaks or slashes
		}
		if !isBase64(raw) {
			v.errorf(CodeValue, "not valid base64 (groups of 4 characters of A-Z a-z 0-9 + / =)")
		}
		return
	}
	s := val.String()
	if re := patterns()[t.Name]; re != nil && !re.MatchString(s) {
		v.errorf(CodeValue, "%q is not a valid %s", clip(s), t.Name)
		return
	}
	switch t.Name {
	case "date", "dateTime", "instant":
		if !dayExists(s) {
			v.errorf(CodeValue, "%q is not a valid %s: no such day", clip(s), t.Name)
		}
	}
}

// hasFormFeed tells whether a string has a form feed, raw or escaped.
func hasFormFeed(val fhirpath.JSONRef, raw []byte) bool {
	esc := false
	for _, c := range raw {
		if c == '\f' {
			return true
		}
		if c == '\\' {
			esc = true
		}
	}
	if !esc {
		return false
	}
	for _, r := range val.String() {
		if r == '\f' {
			return true
		}
	}
	return false
}

// isBase64 is base64Binary's pattern (\s*([0-9a-zA-Z\+/=]){4}\s*)+:
// characters of the base64 alphabet and padding, in groups of four once
// white space is removed.
func isBase64(raw []byte) bool {
	n := 0
	for _, c := range raw {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/', c == '=':
			n++
		case c == ' ', c == '\t', c == '\n', c == '\r', c == '\f':
		default:
			return false
		}
	}
	return n > 0 && n%4 == 0
}

// dayExists checks the day of a date that matched its pattern (which
// allows up to 31 in every month).
func dayExists(s string) bool {
	if len(s) < 10 {
		return true
	}
	y, _ := strconv.Atoi(s[0:4])
	m, _ := strconv.Atoi(s[5:7])
	d, _ := strconv.Atoi(s[8:10])
	days := [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m-1]
	if m == 2 && y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		days = 29
	}
	return d <= days
}
