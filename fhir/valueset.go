package fhir

import (
	"strings"

	"github.com/concord-health/concord/fhir/internal/defs"
)

// Expansion is the content of a value set that some element binds with
// strength required: the system|code pairs it holds, when they could be
// computed from the code systems in the specification.
type Expansion struct {
	URL  string
	Name string
	// Expanded is false for value sets drawn from code systems the
	// specification does not contain (UCUM units, MIME types, currencies,
	// a LOINC answer list); Reason says which. Validation cannot check
	// codes against those here.
	Expanded bool
	Reason   string
	Systems  []ExpansionSystem

	pairs map[string]struct{} // system + "|" + code
	codes map[string]struct{}
}

// ExpansionSystem holds the codes an expansion takes from one code system,
// in the code system's order.
type ExpansionSystem struct {
	System string
	Codes  []string
}

func (s *store) linkValueSets(d *defs.Defs) {
	s.valueSets = make(map[string]*Expansion, len(d.ValueSets))
	for i := range d.ValueSets {
		dv := &d.ValueSets[i]
		e := &Expansion{URL: dv.URL, Name: dv.Name, Expanded: dv.Expanded, Reason: dv.Reason}
		n := 0
		for _, sc := range dv.Systems {
			e.Systems = append(e.Systems, ExpansionSystem(sc))
			n += len(sc.Codes)
		}
		e.pairs = make(map[string]struct{}, n)
		e.codes = make(map[string]struct{}, n)
		for _, sc := range dv.Systems {
			for _, c := range sc.Codes {
				e.pairs[sc.System+"|"+c] = struct{}{}
				e.codes[c] = struct{}{}
			}
		}
		s.valueSets[e.URL] = e
		s.valueSetsList = append(s.valueSetsList, e)
	}
}

// ValueSet returns the expansion of a value set bound as required by some
// element. A |version suffix on url is ignored. It returns false for other
// value sets.
func ValueSet(url string) (*Expansion, bool) {
	if i := strings.IndexByte(url, '|'); i >= 0 {
		url = url[:i]
	}
	e, ok := data().valueSets[url]
	return e, ok
}

// RequiredValueSets returns every value set bound as required, expanded or
// not, sorted by URL.
func RequiredValueSets() []*Expansion { return data().valueSetsList }

// Contains tells whether the expansion holds code in system.
func (e *Expansion) Contains(system, code string) bool {
	_, ok := e.pairs[system+"|"+code]
	return ok
}

// ContainsCode tells whether the expansion holds code in any system, for
// elements of type code whose system is implied by the binding.
func (e *Expansion) ContainsCode(code string) bool {
	_, ok := e.codes[code]
	return ok
}

// ValueSetContains tells whether the value set holds code in system (any
// system when system is empty). known is false when the value set is not
// bound as required anywhere or could not be expanded; contains is then
// false and means nothing.
func ValueSetContains(url, system, code string) (contains, known bool) {
	e, ok := ValueSet(url)
	if !ok || !e.Expanded {
		return false, false
	}
	if system == "" {
		return e.ContainsCode(code), true
	}
	return e.Contains(system, code), true
}

// Excluded lists what the source package holds that is not FHIR R4 and
// was left out or reverted when generating the data.
func Excluded() []Exclusion { return data().excluded }
