package fhirpath

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"
)

// syntheticPatient is a made-up patient (no real person).
const syntheticPatient = `{"resourceType":"Patient","id":"syn-1","active":true,
 "name":[{"use":"official","family":"Synthetic","given":["Pat","Quinn"]},{"use":"nickname","given":["PQ"]}],
 "gender":"female","birthDate":"1980-02-29","_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime","valueDateTime":"1980-02-29T06:15:00+01:00"}]},
 "multipleBirthInteger":2,
 "contained":[{"resourceType":"Organization","id":"org1","name":"Synthetic Clinic"}],
 "managingOrganization":{"reference":"#org1"}}`

func evalJSON(t *testing.T, expr, src string) string {
	t.Helper()
	doc, err := ParseJSON([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	x, err := Compile(expr)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	out, err := x.Evaluate(doc, &Options{Now: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEvaluate(t *testing.T) {
	for expr, want := range map[string]string{
		"Patient.name.given":                  `["Pat","Quinn","PQ"]`,
		"name.where(use = 'official').family": `["Synthetic"]`,
		"Patient.birthDate.extension('http://hl7.org/fhir/StructureDefinition/patient-birthTime').value": `["1980-02-29T06:15:00+01:00"]`,
		"Patient.multipleBirth":                                               `[2]`,
		"Patient.multipleBirth is integer":                                    `[true]`,
		"Patient.birthDate + 1 year":                                          `["1981-02-28"]`,
		"(Patient.birthDate < today()) and active":                            `[true]`,
		"Patient.managingOrganization.resolve().name":                         `["Synthetic Clinic"]`,
		"Patient.contained.ofType(Organization).id":                           `["org1"]`,
		"name.given.count() > 2 implies gender = 'female'":                    `[true]`,
		"Patient.deceased.exists()":                                           `[false]`,
		"name.select(given.first() & ' ' & family).where($this.length() > 4)": `["Pat Synthetic"]`,
		"(1 | 2 | 2 | 3).aggregate($this + $total, 0)":                        `[6]`,
		"5.5 'mg' = 0.0055 'g'":                                               `[true]`,
		"@2012-04-15 = @2012-04-15T10:00":                                     `[]`,
		"1.0 = 1.00 and 1.2 ~ 1.21":                                           `[true]`,
		"Patient.name.given.sort(-$this)":                                     `["Quinn","Pat","PQ"]`,
	} {
		if got := evalJSON(t, expr, syntheticPatient); got != want {
			t.Errorf("%s = %s, want %s", expr, got, want)
		}
	}
}

// TestLimits: a hostile expression stops at the step limit or the
// context's deadline, with an error, instead of running away.
func TestLimits(t *testing.T) {
	doc, _ := ParseJSON([]byte(syntheticPatient))
	bomb := MustCompile("(1|2|3|4|5|6|7|8|9|10).select((1|2|3|4|5|6|7|8|9|10).select((1|2|3|4|5|6|7|8|9|10).select((1|2|3|4|5|6|7|8|9|10).select($this))))")
	if _, err := bomb.Evaluate(doc, &Options{MaxSteps: 5000}); !errors.Is(err, ErrTooMuchWork) {
		t.Fatalf("step limit: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := bomb.Evaluate(doc, &Options{Context: ctx}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
	if out, err := bomb.Evaluate(doc, nil); err != nil || len(out) != 10000 {
		t.Fatalf("within the default limit: %d items, %v", len(out), err)
	}
}

// TestConcurrentEvaluate: one compiled expression, many goroutines.
func TestConcurrentEvaluate(t *testing.T) {
	x := MustCompile("Patient.name.where(use = 'official').given.first() & '/' & %resource.id")
	doc, _ := ParseJSON([]byte(syntheticPatient))
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				out, err := x.Evaluate(doc, nil)
				if err != nil || len(out) != 1 || out[0].String() != "Pat/syn-1" {
					t.Errorf("%v %v", out, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestCompileErrors(t *testing.T) {
	for _, bad := range []string{"nosuch()", "where()", "first(1)", "is(NoSuchType)", "@2020-13-01", "99999999999999999999"} {
		if _, err := Compile(bad); err == nil {
			t.Errorf("%q compiled", bad)
		}
	}
}

type fakeResolver map[string]string

func (f fakeResolver) Resolve(ctx context.Context, ref string) (*Doc, error) {
	src, ok := f[ref]
	if !ok {
		return nil, errors.New("not found")
	}
	return ParseJSON([]byte(src))
}

type fakeTerminology map[string]bool

func (f fakeTerminology) MemberOf(ctx context.Context, vs, system, code string) (bool, error) {
	return f[vs+"|"+system+"|"+code], nil
}

// TestResolverAndTerminology: resolve() and memberOf() go through the
// interfaces the caller gives; without them they give empty.
func TestResolverAndTerminology(t *testing.T) {
	obs := `{"resourceType":"Observation","status":"final","subject":{"reference":"Patient/syn-1"},
	 "code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]}}`
	doc, _ := ParseJSON([]byte(obs))
	opt := &Options{
		Resolver:    fakeResolver{"Patient/syn-1": syntheticPatient},
		Terminology: fakeTerminology{"http://hl7.org/fhir/ValueSet/observation-vitalsignresult|http://loinc.org|8867-4": true},
	}
	for expr, want := range map[string]string{
		"Observation.subject.resolve().name.first().family":                                     "Synthetic",
		"Observation.subject.resolve() is Patient":                                              "true",
		"Observation.code.memberOf('http://hl7.org/fhir/ValueSet/observation-vitalsignresult')": "true",
		"Observation.code.coding.first().memberOf(%vs-observation-vitalsignresult)":             "true",
		"Observation.code.memberOf('http://example.org/vs')":                                    "false",
	} {
		out, err := MustCompile(expr).Evaluate(doc, opt)
		if err != nil || len(out) != 1 || out[0].String() != want {
			t.Errorf("%s = %v %v, want %s", expr, out, err, want)
		}
	}
	if out, err := MustCompile("Observation.subject.resolve()").Evaluate(doc, nil); err != nil || len(out) != 0 {
		t.Errorf("resolve without a resolver: %v %v", out, err)
	}
}
