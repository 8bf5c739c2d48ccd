package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/concord-health/concord/fhir/internal/defs"
)

const (
	sdPrefix     = "http://hl7.org/fhir/StructureDefinition/"
	systemPrefix = "http://hl7.org/fhirpath/"
	regexExt     = "http://hl7.org/fhir/StructureDefinition/regex"
)

type structureDefinition struct {
	ID             string `json:"id"`
	URL            string `json:"url"`
	Name           string `json:"name"`
	FHIRVersion    string `json:"fhirVersion"`
	Kind           string `json:"kind"`
	Abstract       bool   `json:"abstract"`
	Type           string `json:"type"`
	BaseDefinition string `json:"baseDefinition"`
	Derivation     string `json:"derivation"`
	Snapshot       struct {
		Element []elementDefinition `json:"element"`
	} `json:"snapshot"`
	Differential struct {
		Element []elementDefinition `json:"element"`
	} `json:"differential"`
}

type elementDefinition struct {
	Path string `json:"path"`
	Min  *int   `json:"min"`
	Max  string `json:"max"`
	Base struct {
		Path string `json:"path"`
	} `json:"base"`
	Type []struct {
		Code          string   `json:"code"`
		Profile       []string `json:"profile"`
		TargetProfile []string `json:"targetProfile"`
		Extension     []struct {
			URL         string `json:"url"`
			ValueString string `json:"valueString"`
		} `json:"extension"`
	} `json:"type"`
	ContentReference string          `json:"contentReference"`
	IsModifier       bool            `json:"isModifier"`
	IsSummary        bool            `json:"isSummary"`
	Constraint       []constraint    `json:"constraint"`
	Binding          *bindingElement `json:"binding"`
}

type constraint struct {
	Key        string `json:"key"`
	Severity   string `json:"severity"`
	Human      string `json:"human"`
	Expression string `json:"expression"`
	Source     string `json:"source"`
}

type bindingElement struct {
	Strength string `json:"strength"`
	ValueSet string `json:"valueSet"`
}

// readTypes reads the StructureDefinitions of both profile files and
// returns the kept types in file order.
func (g *generator) readTypes(files map[string][]byte) error {
	var sds []*structureDefinition
	for _, f := range []string{"profiles-types.json", "profiles-resources.json"} {
		entries, err := bundle(files[f])
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		for _, raw := range entries {
			if resourceType(raw) != "StructureDefinition" {
				continue // CapabilityStatements, OperationDefinitions, CompartmentDefinitions
			}
			sd := &structureDefinition{}
			if err := json.Unmarshal(raw, sd); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			switch {
			case !strings.HasPrefix(sd.URL, sdPrefix):
				g.exclude("StructureDefinition", sd.URL, "not an HL7 FHIR definition")
				continue
			case sd.FHIRVersion != g.version:
				g.exclude("StructureDefinition", sd.ID, "FHIR version "+sd.FHIRVersion+", not "+g.version+" (a later version's resource added by Medplum)")
				continue
			}
			sds = append(sds, sd)
		}
	}
	g.sdByName = map[string]*structureDefinition{}
	for _, sd := range sds {
		g.sdByName[typeName(sd.URL)] = sd
	}
	for _, sd := range sds {
		t, err := g.convertType(sd)
		if err != nil {
			return fmt.Errorf("%s: %w", sd.ID, err)
		}
		g.defs.Types = append(g.defs.Types, t)
	}
	for i := range g.defs.Types {
		t := &g.defs.Types[i]
		if t.Kind == "primitive-type" {
			t.SystemType = g.systemType(t.Name)
		}
	}
	return nil
}

func typeName(url string) string { return url[strings.LastIndexByte(url, '/')+1:] }

// convertType turns one StructureDefinition into a defs.Type.
//
// The snapshot gives every element with the inherited ones, but Medplum
// edited some snapshots (added elements from later FHIR versions and its
// own Meta elements, changed targets and bindings) while leaving the
// differential, which is the specification's own text, untouched apart
// from added Medplum targets. So for specializations, the elements a type
// defines itself are taken from its differential: a snapshot element
// defined by this type but absent from the differential is dropped (with
// its children), a differential element missing from the snapshot is put
// back, and cardinality, types, binding, content reference and
// constraints come from the differential.
func (g *generator) convertType(sd *structureDefinition) (defs.Type, error) {
	name := typeName(sd.URL)
	t := defs.Type{
		Name:       name,
		URL:        sd.URL,
		Kind:       sd.Kind,
		Derivation: sd.Derivation,
		Abstract:   sd.Abstract,
	}
	if sd.BaseDefinition != "" {
		t.Base = typeName(sd.BaseDefinition)
	}
	snap := sd.Snapshot.Element
	if len(snap) == 0 {
		return t, fmt.Errorf("no snapshot")
	}
	if sd.Derivation == "constraint" {
		// A profile such as SimpleQuantity: its snapshot is the profiled
		// type's, paths start with that type's name. Name them after the
		// profile so they can be looked up by it.
		for _, el := range snap {
			e, err := g.convertElement(sd, el, name+strings.TrimPrefix(el.Path, sd.Type))
			if err != nil {
				return t, err
			}
			t.Elements = append(t.Elements, e)
		}
		g.regex(&t, snap)
		return t, nil
	}

	diff := map[string]*elementDefinition{}
	diffKeys := map[string]bool{}
	for i := range sd.Differential.Element {
		d := &sd.Differential.Element[i]
		diff[d.Path] = d
		for _, c := range d.Constraint {
			diffKeys[c.Key] = true
		}
	}
	var kept []elementDefinition
	var dropped []string
	seen := map[string]bool{}
snapshot:
	for _, el := range snap {
		for _, p := range dropped {
			if strings.HasPrefix(el.Path, p+".") {
				continue snapshot
			}
		}
		d := diff[el.Path]
		if d == nil && el.Base.Path == el.Path && el.Path != name {
			g.exclude("element", el.Path, "not in the R4 differential of "+name+" (added by Medplum)")
			dropped = append(dropped, el.Path)
			continue
		}
		if d != nil {
			el = g.fromDifferential(name, el, d, diffKeys)
		}
		seen[el.Path] = true
		kept = append(kept, el)
	}
	// Put back differential elements the snapshot lacks, each after the
	// subtree of the element that precedes it in the differential.
	for i, d := range sd.Differential.Element {
		if seen[d.Path] {
			continue
		}
		if i == 0 {
			return t, fmt.Errorf("differential root %s not in snapshot", d.Path)
		}
		if len(d.Type) == 1 && (d.Type[0].Code == "BackboneElement" || d.Type[0].Code == "Element") {
			return t, fmt.Errorf("%s: restoring a backbone element is not supported", d.Path)
		}
		prev := sd.Differential.Element[i-1].Path
		at := len(kept)
		for j, k := range kept {
			if k.Path == prev || strings.HasPrefix(k.Path, prev+".") {
				at = j + 1
			}
		}
		el := d
		el.Base.Path = d.Path
		el.Constraint = append([]constraint{g.ele1}, d.Constraint...)
		kept = append(kept[:at], append([]elementDefinition{el}, kept[at:]...)...)
		seen[d.Path] = true
		g.exclude("element", d.Path, "missing from Medplum's snapshot; restored from the R4 differential")
	}
	for _, el := range kept {
		e, err := g.convertElement(sd, el, el.Path)
		if err != nil {
			return t, err
		}
		t.Elements = append(t.Elements, e)
	}
	g.regex(&t, kept)
	return t, nil
}

// fromDifferential returns the snapshot element el with what the type
// itself defines taken from its differential element d.
func (g *generator) fromDifferential(typ string, el elementDefinition, d *elementDefinition, diffKeys map[string]bool) elementDefinition {
	own := el.Base.Path == el.Path
	if own {
		if d.Min != nil {
			el.Min = d.Min
		}
		if d.Max != "" {
			el.Max = d.Max
		}
		if len(d.Type) > 0 || d.ContentReference != "" {
			if typesKey(el) != typesKey(*d) {
				g.exclude("element", el.Path, "types differ from the R4 differential; reverted")
			}
			el.Type = d.Type
			el.ContentReference = d.ContentReference
		}
		if d.Binding != nil && bindingKey(el.Binding) != bindingKey(d.Binding) {
			g.exclude("element", el.Path, "binding differs from the R4 differential; reverted")
		}
		if d.Binding != nil || el.Binding != nil {
			el.Binding = d.Binding
		}
	}
	// Constraints: the differential's version of a key wins; a constraint
	// the snapshot attributes to this type that the differential nowhere
	// declares is dropped.
	url := sdPrefix + typ
	byKey := map[string]constraint{}
	for _, c := range d.Constraint {
		byKey[c.Key] = c
	}
	var out []constraint
	used := map[string]bool{}
	for _, c := range el.Constraint {
		if dc, ok := byKey[c.Key]; ok {
			if dc.Expression != c.Expression {
				g.exclude("constraint", typ+" "+c.Key, "expression differs from the R4 differential; the R4 text is kept (Medplum's: "+c.Expression+")")
			}
			if dc.Source == "" {
				dc.Source = c.Source
			}
			out = append(out, dc)
			used[c.Key] = true
			continue
		}
		if (c.Source == url || c.Source == "") && !diffKeys[c.Key] {
			g.exclude("constraint", el.Path+" "+c.Key, "not in the R4 differential of "+typ+" (added by Medplum)")
			continue
		}
		out = append(out, c)
	}
	for _, c := range d.Constraint {
		if !used[c.Key] {
			out = append(out, c)
		}
	}
	el.Constraint = out
	return el
}

// typesKey is what matters of an element's types: codes, targets and
// profiles (not extensions).
func typesKey(el elementDefinition) string {
	var b strings.Builder
	for _, t := range el.Type {
		fmt.Fprintf(&b, "%s%v%v;", t.Code, t.TargetProfile, t.Profile)
	}
	return b.String() + el.ContentReference
}

func bindingKey(b *bindingElement) string {
	if b == nil {
		return ""
	}
	return b.Strength + " " + stripVersion(b.ValueSet)
}

// convertElement turns one element into its stored form under path.
func (g *generator) convertElement(sd *structureDefinition, el elementDefinition, path string) (defs.Element, error) {
	e := defs.Element{
		Path:       path,
		ContentRef: el.ContentReference,
		IsModifier: el.IsModifier,
		IsSummary:  el.IsSummary,
	}
	if el.Min != nil {
		e.Min = *el.Min
	}
	switch el.Max {
	case "*":
		e.Max = -1
	case "":
		return e, fmt.Errorf("%s: no max", el.Path)
	default:
		n, err := strconv.Atoi(el.Max)
		if err != nil {
			return e, fmt.Errorf("%s: max %q", el.Path, el.Max)
		}
		e.Max = n
	}
	for _, ty := range el.Type {
		tr := defs.TypeRef{Code: strings.TrimPrefix(ty.Code, systemPrefix)}
		tr.Targets = g.names(path, ty.TargetProfile)
		tr.Profiles = g.names(path, ty.Profile)
		e.Types = append(e.Types, tr)
	}
	if b := el.Binding; b != nil && b.Strength != "" {
		e.Binding = defs.Binding{Strength: b.Strength, ValueSet: stripVersion(b.ValueSet)}
	}
	for _, c := range el.Constraint {
		if c.Source == "" {
			c.Source = sd.URL
		}
		e.Constraints = append(e.Constraints, g.constraint(c))
	}
	return e, nil
}

// names turns profile URLs into type names, leaving out (and recording)
// those that are not HL7 FHIR R4 types.
func (g *generator) names(path string, urls []string) []string {
	var out []string
	for _, u := range urls {
		n := typeName(u)
		if !strings.HasPrefix(u, sdPrefix) || g.sdByName[n] == nil {
			g.exclude("target", path+" "+u, "not an R4 type (Medplum's own resource)")
			continue
		}
		out = append(out, n)
	}
	return out
}

func stripVersion(url string) string {
	if i := strings.IndexByte(url, '|'); i >= 0 {
		return url[:i]
	}
	return url
}

func (g *generator) constraint(c constraint) int {
	key := defs.Constraint{Key: c.Key, Severity: c.Severity, Human: c.Human, Expression: c.Expression, Source: typeName(c.Source)}
	if i, ok := g.constraintIndex[key]; ok {
		return i
	}
	i := len(g.defs.Constraints)
	g.defs.Constraints = append(g.defs.Constraints, key)
	g.constraintIndex[key] = i
	return i
}

// regex takes a primitive's value pattern from its value element.
func (g *generator) regex(t *defs.Type, els []elementDefinition) {
	if t.Kind != "primitive-type" {
		return
	}
	for _, el := range els {
		if el.Path != t.Name+".value" {
			continue
		}
		for _, ty := range el.Type {
			for _, x := range ty.Extension {
				if x.URL == regexExt {
					t.Regex = x.ValueString
				}
			}
		}
	}
}

// systemType is the FHIRPath System type of a primitive: the type of the
// value element of the primitive at the root of its base chain (positiveInt
// is an integer, code a string), because R4 gives several derived
// primitives a System.String value.
func (g *generator) systemType(name string) string {
	for {
		sd := g.sdByName[name]
		if sd == nil {
			return ""
		}
		base := typeName(sd.BaseDefinition)
		if base != "Element" {
			name = base
			continue
		}
		for _, el := range sd.Snapshot.Element {
			if el.Path == name+".value" && len(el.Type) == 1 {
				return strings.TrimPrefix(el.Type[0].Code, systemPrefix)
			}
		}
		return ""
	}
}

// resourceTypes lists the concrete resource types, sorted.
func (g *generator) resourceTypes() []string {
	var out []string
	for _, t := range g.defs.Types {
		if t.Kind == "resource" && !t.Abstract {
			out = append(out, t.Name)
		}
	}
	sort.Strings(out)
	return out
}
