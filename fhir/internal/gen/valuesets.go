package main

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/concord-health/concord/fhir/internal/defs"
)

type concept struct {
	Code    string    `json:"code"`
	Concept []concept `json:"concept"`
}

type codeSystem struct {
	URL     string    `json:"url"`
	Content string    `json:"content"`
	Concept []concept `json:"concept"`
}

type composeSet struct {
	System  string `json:"system"`
	Concept []struct {
		Code string `json:"code"`
	} `json:"concept"`
	Filter []struct {
		Property string `json:"property"`
		Op       string `json:"op"`
		Value    string `json:"value"`
	} `json:"filter"`
	ValueSet []string `json:"valueSet"`
}

type valueSet struct {
	URL     string `json:"url"`
	Name    string `json:"name"`
	Compose *struct {
		Include []composeSet `json:"include"`
		Exclude []composeSet `json:"exclude"`
	} `json:"compose"`
	Expansion *struct {
		Contains []struct {
			System string `json:"system"`
			Code   string `json:"code"`
		} `json:"contains"`
	} `json:"expansion"`
}

// expansion is an ordered set of system|code pairs.
type expansion struct {
	systems []string
	codes   map[string][]string
	has     map[[2]string]bool
}

func newExpansion() *expansion {
	return &expansion{codes: map[string][]string{}, has: map[[2]string]bool{}}
}

func (e *expansion) add(system, code string) {
	k := [2]string{system, code}
	if e.has[k] {
		return
	}
	if _, ok := e.codes[system]; !ok {
		e.systems = append(e.systems, system)
	}
	e.codes[system] = append(e.codes[system], code)
	e.has[k] = true
}

type terminology struct {
	valueSets   map[string]*valueSet
	codeSystems map[string]*codeSystem
}

// readValueSets expands every value set that a kept element binds with
// strength required, from the code systems and value sets in the
// package. Those it cannot expand are kept with the reason.
func (g *generator) readValueSets(files map[string][]byte) error {
	term := terminology{valueSets: map[string]*valueSet{}, codeSystems: map[string]*codeSystem{}}
	for _, f := range []string{"valuesets.json", "v3-codesystems.json", "v2-tables.json"} {
		entries, err := bundle(files[f])
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		for _, raw := range entries {
			switch resourceType(raw) {
			case "ValueSet":
				vs := &valueSet{}
				if err := json.Unmarshal(raw, vs); err != nil {
					return fmt.Errorf("%s: %w", f, err)
				}
				if term.valueSets[vs.URL] == nil {
					term.valueSets[vs.URL] = vs
				}
			case "CodeSystem":
				cs := &codeSystem{}
				if err := json.Unmarshal(raw, cs); err != nil {
					return fmt.Errorf("%s: %w", f, err)
				}
				if term.codeSystems[cs.URL] == nil {
					term.codeSystems[cs.URL] = cs
				}
			}
		}
	}
	required := map[string]bool{}
	for _, t := range g.defs.Types {
		for _, el := range t.Elements {
			if el.Binding.Strength == "required" {
				required[el.Binding.ValueSet] = true
			}
		}
	}
	urls := make([]string, 0, len(required))
	for u := range required {
		urls = append(urls, u)
	}
	sort.Strings(urls)
	for _, u := range urls {
		out := defs.ValueSet{URL: u}
		if vs := term.valueSets[u]; vs != nil {
			out.Name = vs.Name
		}
		exp, err := term.expand(u, map[string]bool{})
		if err != nil {
			out.Reason = err.Error()
		} else {
			out.Expanded = true
			for _, s := range exp.systems {
				out.Systems = append(out.Systems, defs.SystemCodes{System: s, Codes: exp.codes[s]})
			}
		}
		g.defs.ValueSets = append(g.defs.ValueSets, out)
	}
	return nil
}

func (t *terminology) expand(url string, busy map[string]bool) (*expansion, error) {
	if busy[url] {
		return nil, fmt.Errorf("value set %s includes itself", url)
	}
	busy[url] = true
	defer delete(busy, url)
	vs := t.valueSets[url]
	if vs == nil {
		return nil, fmt.Errorf("value set %s is not in the package", url)
	}
	exp := newExpansion()
	if vs.Compose == nil {
		if vs.Expansion == nil {
			return nil, fmt.Errorf("value set %s has neither compose nor expansion", url)
		}
		for _, c := range vs.Expansion.Contains {
			exp.add(c.System, c.Code)
		}
		return exp, nil
	}
	for _, inc := range vs.Compose.Include {
		part, err := t.expandSet(inc, busy)
		if err != nil {
			return nil, err
		}
		for _, s := range part.systems {
			for _, c := range part.codes[s] {
				exp.add(s, c)
			}
		}
	}
	if len(vs.Compose.Exclude) > 0 {
		drop := newExpansion()
		for _, ex := range vs.Compose.Exclude {
			part, err := t.expandSet(ex, busy)
			if err != nil {
				return nil, err
			}
			for k := range part.has {
				drop.has[k] = true
			}
		}
		kept := newExpansion()
		for _, s := range exp.systems {
			for _, c := range exp.codes[s] {
				if !drop.has[[2]string{s, c}] {
					kept.add(s, c)
				}
			}
		}
		exp = kept
	}
	return exp, nil
}

// expandSet expands one include or exclude.
func (t *terminology) expandSet(set composeSet, busy map[string]bool) (*expansion, error) {
	var exp *expansion
	if set.System != "" {
		exp = newExpansion()
		switch {
		case len(set.Concept) > 0:
			for _, c := range set.Concept {
				exp.add(set.System, c.Code)
			}
		default:
			cs := t.codeSystems[set.System]
			if cs == nil {
				return nil, fmt.Errorf("code system %s is not in the package", set.System)
			}
			if cs.Content != "complete" {
				return nil, fmt.Errorf("code system %s is not complete in the package (content %s)", set.System, cs.Content)
			}
			codes, err := filterConcepts(cs, set)
			if err != nil {
				return nil, err
			}
			for _, c := range codes {
				exp.add(set.System, c)
			}
		}
	}
	// Value sets named by an include intersect with each other and with
	// the system part.
	for _, u := range set.ValueSet {
		part, err := t.expand(stripVersion(u), busy)
		if err != nil {
			return nil, err
		}
		if exp == nil {
			exp = part
			continue
		}
		both := newExpansion()
		for _, s := range exp.systems {
			for _, c := range exp.codes[s] {
				if part.has[[2]string{s, c}] {
					both.add(s, c)
				}
			}
		}
		exp = both
	}
	if exp == nil {
		return newExpansion(), nil
	}
	return exp, nil
}

// filterConcepts returns the codes of cs that pass set's filters: none
// (all codes), or is-a, descendent-of and = on the concept hierarchy.
func filterConcepts(cs *codeSystem, set composeSet) ([]string, error) {
	var all []string
	var walk func([]concept)
	walk = func(cs []concept) {
		for _, c := range cs {
			all = append(all, c.Code)
			walk(c.Concept)
		}
	}
	walk(cs.Concept)
	keep := map[string]bool{}
	for _, c := range all {
		keep[c] = true
	}
	for _, f := range set.Filter {
		if f.Property != "concept" {
			return nil, fmt.Errorf("code system %s: filter on property %q is not supported", cs.URL, f.Property)
		}
		root := findConcept(cs.Concept, f.Value)
		if root == nil {
			return nil, fmt.Errorf("code system %s: filter value %q is not a code", cs.URL, f.Value)
		}
		pass := map[string]bool{}
		switch f.Op {
		case "=":
			pass[root.Code] = true
		case "is-a", "descendent-of":
			if f.Op == "is-a" {
				pass[root.Code] = true
			}
			var sub func([]concept)
			sub = func(cs []concept) {
				for _, c := range cs {
					pass[c.Code] = true
					sub(c.Concept)
				}
			}
			sub(root.Concept)
		default:
			return nil, fmt.Errorf("code system %s: filter op %q is not supported", cs.URL, f.Op)
		}
		for c := range keep {
			if !pass[c] {
				delete(keep, c)
			}
		}
	}
	var out []string
	for _, c := range all {
		if keep[c] {
			out = append(out, c)
		}
	}
	return out, nil
}

func findConcept(cs []concept, code string) *concept {
	for i := range cs {
		if cs[i].Code == code {
			return &cs[i]
		}
		if c := findConcept(cs[i].Concept, code); c != nil {
			return c
		}
	}
	return nil
}
