package fhirpath

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse: no input crashes the parser, and whatever parses prints (with
// Format) to an expression that parses to the same tree.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"Patient.name.where(use = 'official').given.first()",
		"(1 | 2 | 3).aggregate($this + $total, 0)",
		"Observation.value.as(Quantity) > 5.5 'mg' and @2020-01-02T10:00:00Z < now()",
		"-5 days + %resource.meta.lastUpdated is FHIR.instant",
		"`div`.children()[0] ~ 'a\\u0041' implies {} xor true",
		"/* c */ 1 // d",
		"@T12:30:00.5 != @2015T",
		"%`vs-administrative-gender`.code contains 12L",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			return
		}
		out := Format(n)
		m, err := Parse(out)
		if err != nil {
			t.Fatalf("%q parsed, but its formatted form %q does not: %v", s, out, err)
		}
		if again := Format(m); again != out {
			t.Fatalf("%q: formatted %q, which parses to %q", s, out, again)
		}
	})
}

// FuzzParseJSON: no input crashes the indexer, and it accepts exactly
// what encoding/json accepts (for inputs within its limits), reading the
// same values.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Patient","name":[{"given":["A","B"]}],"active":true}`,
		`[1,-2.5e3,"a\u00e9\n",null,false,{}]`,
		`"\ud83d\ude00"`, `{"a":{"b":{"c":[[]]}}}`, ` 0 `, `{"a":1,}`, `"\u"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		d, err := ParseJSON(src)
		if !utf8.Valid(src) {
			if err == nil {
				t.Fatalf("%q: accepted bytes that are not UTF-8", src)
			}
			return // encoding/json accepts them; FHIR JSON must be UTF-8
		}
		var want any
		werr := json.Unmarshal(src, &want)
		if (err == nil) != (werr == nil) {
			// encoding/json nests deeper than MaxJSONDepth.
			if err != nil && strings.Contains(err.Error(), "nested deeper") {
				return
			}
			t.Fatalf("%q: ParseJSON %v, encoding/json %v", src, err, werr)
		}
		if err == nil && !equalJSON(toAny(d.Root()), want) {
			t.Fatalf("%q: read differently", src)
		}
	})
}

// FuzzXMLToJSON: no input crashes the FHIR XML reader, and what it
// accepts is valid JSON that the index reads.
func FuzzXMLToJSON(f *testing.F) {
	for _, s := range []string{
		`<Patient xmlns="http://hl7.org/fhir"><id value="x"/><active value="true"/><name><given value="A"/><given value="B"/></name></Patient>`,
		`<Observation xmlns="http://hl7.org/fhir"><status value="final"/><valueQuantity><value value="1.50"/><unit value="mg"/></valueQuantity></Observation>`,
		`<Patient xmlns="http://hl7.org/fhir"><birthDate id="b" value="2000-01-01"><extension url="u"><valueString value="s"/></extension></birthDate><text><div xmlns="http://www.w3.org/1999/xhtml"><p>hi</p></div></text></Patient>`,
		`<Bundle xmlns="http://hl7.org/fhir"><entry><resource><Patient><id value="1"/></Patient></resource></entry></Bundle>`,
		`<Patient xmlns="http://hl7.org/fhir"><active value="maybe"/></Patient>`,
		`<Nope xmlns="http://hl7.org/fhir"/>`, `<Patient>`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		out, err := XMLToJSON(src)
		if err != nil {
			return
		}
		if _, err := ParseJSON(out); err != nil {
			t.Fatalf("%q gave JSON the index refuses: %v\n%s", src, err, out)
		}
	})
}

// FuzzEvaluate: no expression crashes the evaluator or runs past its
// work limit on a resource.
func FuzzEvaluate(f *testing.F) {
	for _, s := range []string{
		"Patient.name.where(use = 'official').given.first()", "name.select(given & family).repeat($this)",
		"(1 | 2 | 3).aggregate($this + $total, 0) / 0", "birthDate + 1 year - 3 'wk' < now()",
		"defineVariable('a', name).select(%a.given.sort(-$this))", "descendants().ofType(string).count()",
		"'x'.replaceMatches('(a*)*b', '') & 5.5 'mg'.toQuantity('g').toString()", "iif(active, 1, 'a') ~ 1.0",
		"contained.resolve().lowBoundary(3) | @2020-01.highBoundary(17)", "%resource.children().children().trace('t')",
	} {
		f.Add(s)
	}
	doc, err := ParseJSON([]byte(syntheticPatient))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		x, err := Compile(expr)
		if err != nil {
			return
		}
		_, err = x.Evaluate(doc, &Options{MaxSteps: 100_000})
		var ee *EvalError
		if err != nil && !errors.As(err, &ee) && !errors.Is(err, ErrTooMuchWork) && !errors.Is(err, errOverflow) {
			t.Fatalf("%q: unexpected error kind %T: %v", expr, err, err)
		}
	})
}
