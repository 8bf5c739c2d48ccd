package fhirpath

import (
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParsePrecedence(t *testing.T) {
	for in, want := range map[string]string{
		"2 + 2 * 3":                                 "(2 + (2 * 3))",
		"1 + 2 - 3":                                 "((1 + 2) - 3)",
		"a.b.c":                                     "a.b.c",
		"Patient.name.given.first()":                "Patient.name.given.first()",
		"name.where(use = 'official').family":       "name.where((use = 'official')).family",
		"a or b and c implies d xor e":              "((a or (b and c)) implies (d xor e))",
		"-1.5 'mg' + 3 days":                        "((-1.5 'mg') + 3 days)",
		"-a.b":                                      "(-a.b)",
		"x is FHIR.Quantity":                        "(x is FHIR.Quantity)",
		"value as Quantity > 5 'mg'":                "((value as Quantity) > 5 'mg')",
		"a | b = c | d":                             "((a | b) = (c | d))",
		"a in b and c contains d":                   "((a in b) and (c contains d))",
		"name[0].given[1]":                          "name[0].given[1]",
		"%resource.id & %`vs-x` & %'ext'":           "((%resource.id & %vs-x) & %ext)",
		"$this.length() > 3 and $index < $total":    "(($this.length() > 3) and ($index < $total))",
		"@2014-01-25T14:30:14.559+01:00 > @2014":    "(@2014-01-25T14:30:14.559+01:00 > @2014)",
		"@T14:30 = @2015T":                          "(@T14:30 = @2015T)",
		"{} = {}":                                   "({} = {})",
		"`div`.value != 'a\\'b\\u0041'":             "(`div`.value != 'a\\'bA')",
		"Observation.value.as(Quantity).unit":       "Observation.value.as(Quantity).unit",
		"5 div 2 mod 3 * 4 / 5":                     "((((5 div 2) mod 3) * 4) / 5)",
		"iif(true, 1, 2) !~ 3":                      "(iif(true, 1, 2) !~ 3)",
		"2 // comment\n/ 2":                         "(2 / 2)",
		"2 + /* inline $@%^+ * */ 2":                "(2 + 2)",
		"12L + 1":                                   "(12L + 1)",
		"a.contains('x') and contains('y')":         "(a.contains('x') and contains('y'))",
		"(1 | 2).count() >= 2 implies true":         "(((1 | 2).count() >= 2) implies true)",
		"Patient.name.select(given & ' ' & family)": "Patient.name.select(((given & ' ') & family))",
		"1.toString()":                              "1.toString()",
	} {
		n, err := Parse(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if got := Format(n); got != want {
			t.Errorf("%q parsed as %s, want %s", in, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for in, want := range map[string]string{
		"2 + 2 /":       "unexpected end",
		"2 + 2 /* open": "comment not closed",
		"'open":         "not closed",
		"a.":            "want a name",
		"f(1,":          "unexpected end",
		"f(1 2)":        `want ","`,
		"(1 + 2":        `want ")"`,
		"a[1":           `want "]"`,
		"and b":         `unexpected "and"`,
		"$foo":          "unknown special variable",
		"%":             "followed by a name",
		"'\\q'":         "unknown escape",
		"a ? b":         "unexpected character",
		"x is":          "want a type name",
		"@20":           "bad date",
		"1 2":           `unexpected "2"`,
		strings.Repeat("(", MaxDepth+1) + "1" + strings.Repeat(")", MaxDepth+1): "nested deeper",
		strings.Repeat("a", MaxExpressionLength+1):                              "longer than",
	} {
		_, err := Parse(in)
		var se *SyntaxError
		if err == nil || !errors.As(err, &se) || !strings.Contains(err.Error(), want) {
			if len(in) > 40 {
				in = in[:40] + "…"
			}
			t.Errorf("%q: %v, want a syntax error with %q", in, err, want)
		}
	}
}

// suite is the official FHIRPath test file format (testSchema.xsd).
type suite struct {
	Groups []struct {
		Name  string `xml:"name,attr"`
		Tests []struct {
			Name       string `xml:"name,attr"`
			Expression struct {
				Text    string `xml:",chardata"`
				Invalid string `xml:"invalid,attr"`
			} `xml:"expression"`
		} `xml:"test"`
	} `xml:"group"`
}

// TestParseSuites: every valid expression of the official R4 and R5 test
// files parses, and those marked as syntax errors do not. (Expressions
// marked invalid for other reasons may fail at parse time or later.)
func TestParseSuites(t *testing.T) {
	for _, f := range []string{"r4/tests-fhir-r4.xml", "r5/tests-fhir-r5.xml"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "shared", "data", "fhirpath", f))
		if err != nil {
			t.Skipf("shared test data not present: %v", err)
		}
		var s suite
		if err := xml.Unmarshal(data, &s); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, g := range s.Groups {
			for _, tc := range g.Tests {
				n++
				_, err := Parse(tc.Expression.Text)
				switch tc.Expression.Invalid {
				case "syntax":
					if err == nil {
						t.Errorf("%s %s: %q parsed, want a syntax error", f, tc.Name, tc.Expression.Text)
					}
				case "":

					if err != nil {
						t.Errorf("%s %s: %v", f, tc.Name, err)
					}
				}
			}
		}
		t.Logf("%s: %d expressions", f, n)
	}
}
