package fhirpath

import (
	"encoding/csv"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The official FHIRPath test suites (tests-fhir-r4.xml, tests-fhir-r5.xml;
// schema testSchema.xsd) run through RunSuite.

type suiteFile struct {
	Groups []struct {
		Name  string      `xml:"name,attr"`
		Tests []suiteTest `xml:"test"`
	} `xml:"group"`
}

type suiteTest struct {
	Name      string `xml:"name,attr"`
	InputFile string `xml:"inputfile,attr"`
	Predicate string `xml:"predicate,attr"`
	Mode      string `xml:"mode,attr"`
	Expr      struct {
		Text    string `xml:",chardata"`
		Invalid string `xml:"invalid,attr"`
	} `xml:"expression"`
	Outputs []struct {
		Type string `xml:"type,attr"`
		Text string `xml:",chardata"`
	} `xml:"output"`
}

// SuiteResult is the outcome of a suite run.
type SuiteResult struct {
	Passed, Failed, Skipped int
	// Tests has one line per test: group/name, then pass, FAIL or skip
	// with the reason.
	Tests []string
}

// String is the summary line: "N passed, M failed, K skipped".
func (r SuiteResult) String() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped", r.Passed, r.Failed, r.Skipped)
}

// RunSuite runs an official FHIRPath test file. Input files are read from
// the file's directory, as JSON, or as XML converted to JSON (FHIR XML,
// through the R4 definitions).
func RunSuite(path string) (SuiteResult, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return SuiteResult{}, err
	}
	var s suiteFile
	if err := xml.Unmarshal(data, &s); err != nil {
		return SuiteResult{}, fmt.Errorf("%s: %v", path, err)
	}
	dir := filepath.Dir(path)
	twins := readTwins(filepath.Join(dir, "inputfile-map.csv"))
	docs := map[string]*Doc{}
	load := func(name string) (*Doc, error) {
		if d, ok := docs[name]; ok {
			return d, nil
		}
		var d *Doc
		// The suite's own input comes first; a JSON twin only when the
		// named file is missing (twins can differ from the XML).
		j := twins[name]
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			j = ""
		}
		if j != "" {
			src, err := os.ReadFile(filepath.Join(dir, j))
			if err != nil {
				return nil, err
			}
			if d, err = ParseJSON(src); err != nil {
				return nil, err
			}
		} else {
			src, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				return nil, err
			}
			if strings.HasSuffix(name, ".xml") {
				if src, err = XMLToJSON(src); err != nil {
					return nil, fmt.Errorf("%s: %v", name, err)
				}
			}
			if d, err = ParseJSON(src); err != nil {
				return nil, err
			}
		}
		docs[name] = d
		return d, nil
	}
	var res SuiteResult
	now := time.Now()
	for _, g := range s.Groups {
		for _, t := range g.Tests {
			verdict := runSuiteTest(t, load, now)
			switch {
			case verdict == "pass":
				res.Passed++
			case strings.HasPrefix(verdict, "skip"):
				res.Skipped++
			default:
				res.Failed++
			}
			res.Tests = append(res.Tests, g.Name+"/"+t.Name+"\t"+verdict)
		}
	}
	return res, nil
}

func readTwins(path string) map[string]string {
	out := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	rows, _ := csv.NewReader(f).ReadAll()
	for i, r := range rows {
		if i == 0 || len(r) < 4 {
			continue
		}
		if strings.HasSuffix(r[0], ".json") {
			out[r[0]] = r[0]
		} else if r[3] != "" {
			out[r[0]] = r[3]
		}
	}
	return out
}

func runSuiteTest(t suiteTest, load func(string) (*Doc, error), now time.Time) (verdict string) {
	defer func() {
		if r := recover(); r != nil {
			verdict = fmt.Sprintf("FAIL panic: %v", r)
		}
	}()
	var doc *Doc
	if t.InputFile != "" {
		var err error
		if doc, err = load(t.InputFile); err != nil {
			return "skip (input: " + err.Error() + ")"
		}
	}
	expr, err := Compile(t.Expr.Text)
	if err == nil {
		var out Collection
		out, err = expr.Evaluate(doc, &Options{Now: now, Strict: t.Mode == "strict"})
		if err == nil {
			if t.Predicate == "true" {
				out = bools(len(out) > 0)
			}
			if t.Expr.Invalid != "" {
				return "FAIL expected an error, got " + describeCollection(out)
			}
			if len(out) != len(t.Outputs) {
				return fmt.Sprintf("FAIL got %s, want %d items", describeCollection(out), len(t.Outputs))
			}
			for i, o := range t.Outputs {
				if !outputMatches(out[i], o.Type, o.Text) {
					return fmt.Sprintf("FAIL item %d: got %s, want %s %q", i, describeCollection(out[i:i+1]), o.Type, o.Text)
				}
			}
			return "pass"
		}
	}
	if t.Expr.Invalid != "" {
		return "pass"
	}
	return "FAIL " + err.Error()
}

// outputMatches compares an item with an expected <output>.
func outputMatches(v Value, typ, text string) bool {
	s, ok := v.system()
	if !ok {
		return false
	}
	switch typ {
	case "boolean":
		return s.kind == KindBoolean && s.String() == text
	case "integer":
		n, err := strconv.ParseInt(text, 10, 64)
		return (s.kind == KindInteger || s.kind == KindLong) && err == nil && s.i == n
	case "decimal":
		d, err := parseDecimal(text)
		return isNumber(s) && err == nil && numberOf(s).cmp(d) == 0
	case "date", "dateTime", "time":
		want := strings.TrimPrefix(strings.TrimPrefix(text, "@"), "T")
		if !isTemporal(s) {
			return false
		}
		if s.s == want {
			return true
		}
		a, ok1 := temporalOf(s)
		b, ok2 := parseDateTimeText(want)
		if typ == "time" {
			b, ok2 = parseTimeText(want)
		}
		c, known := compareTemporal(a, b)
		return ok1 && ok2 && known && c == 0 && a.prec == b.prec
	case "Quantity":
		q, ok := toQuantity(stringValue(text))
		if !ok || s.kind != KindQuantity {
			return false
		}
		eq, known := valuesEqual(s, q)
		return eq && known
	case "":
		if isNumber(s) {
			d, err := parseDecimal(text)
			return err == nil && numberOf(s).cmp(d) == 0
		}
		return s.String() == strings.TrimPrefix(strings.TrimPrefix(text, "@"), "T") || s.String() == strings.TrimPrefix(text, "@")
	}
	return s.String() == text
}

func describeCollection(c Collection) string {
	parts := make([]string, len(c))
	for i, v := range c {
		if s, ok := v.system(); ok {
			parts[i] = s.TypeName() + " " + strconv.Quote(s.String())
		} else {
			parts[i] = v.TypeName()
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
