// Package defs is the stored form of the FHIR R4 definitions: the flat
// structures the generator fills and encodes, and package fhir decodes
// and links. Nothing outside package fhir and its generator uses it.
package defs

// Defs is everything the generator keeps from the specification.
type Defs struct {
	FHIRVersion  string // "4.0.1"
	Source       string // the npm package and version the data came from
	Types        []Type
	Constraints  []Constraint // shared by elements, referenced by index
	SearchParams []SearchParam
	ValueSets    []ValueSet
	Compartments []Compartment // sorted by code
	Excluded     []Exclusion
	// SourceSearchParams is the number of SearchParameter entries in the
	// source file, kept so tests can show how many were excluded.
	SourceSearchParams int
}

// Type is one StructureDefinition: a primitive, a complex type, a
// resource or a logical model.
type Type struct {
	Name       string
	URL        string
	Kind       string // primitive-type, complex-type, resource, logical
	Base       string // name of the base type; empty for Element and Resource
	Derivation string // specialization or constraint
	Abstract   bool
	SystemType string // primitives: the FHIRPath System type, e.g. System.Integer
	Regex      string // primitives: the value's regular expression, if any
	Elements   []Element
}

// Element is one ElementDefinition of a type's snapshot.
type Element struct {
	Path        string
	Min         int
	Max         int // -1 for *
	Types       []TypeRef
	ContentRef  string // e.g. "#Questionnaire.item"
	IsModifier  bool
	IsSummary   bool
	Binding     Binding
	Constraints []int // indexes into Defs.Constraints
}

// TypeRef is one allowed type of an element.
type TypeRef struct {
	Code     string   // a type name, or a System type for primitive values
	Targets  []string // Reference/canonical targets, as type names
	Profiles []string // profiles on the type, as type names (SimpleQuantity)
}

// Binding ties a coded element to a value set. Strength is empty when the
// element has no binding.
type Binding struct {
	Strength string
	ValueSet string // canonical URL, without a |version suffix
}

// Constraint is an invariant.
type Constraint struct {
	Key        string
	Severity   string
	Human      string
	Expression string
	Source     string // the type that declares it
}

// SearchParam is one SearchParameter.
type SearchParam struct {
	Code        string
	Name        string
	URL         string
	Type        string
	Expression  string
	Base        []string
	Targets     []string
	Components  []Component
	MultipleOr  int8 // 0 unspecified, 1 true, 2 false
	MultipleAnd int8
	Modifiers   []string
	Comparators []string
}

// Component is one part of a composite search parameter.
type Component struct {
	Definition string
	Expression string
}

// ValueSet is a value set bound with strength required by some element.
type ValueSet struct {
	URL      string
	Name     string
	Expanded bool
	Reason   string // why it could not be expanded
	Systems  []SystemCodes
}

// SystemCodes holds the codes of one code system in an expansion.
type SystemCodes struct {
	System string
	Codes  []string
}

// Compartment is one CompartmentDefinition.
type Compartment struct {
	Code      string // Patient, Encounter, RelatedPerson, Practitioner, Device
	URL       string
	Resources []CompartmentResource // sorted by type; only types that can be in it
}

// CompartmentResource names the search parameters that put resources of
// one type in a compartment. "{def}" stands for the resource that
// defines the compartment.
type CompartmentResource struct {
	Type   string
	Params []string
}

// Exclusion records something the source holds that is not FHIR R4 and
// was left out or reverted.
type Exclusion struct {
	Kind   string // StructureDefinition, element, target, constraint, SearchParameter, ...
	Name   string
	Reason string
}
