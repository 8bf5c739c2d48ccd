package fhir

import (
	"sort"

	"github.com/concord-health/concord/fhir/internal/defs"
)

// Search parameter types.
const (
	SearchNumber    = "number"
	SearchDate      = "date"
	SearchString    = "string"
	SearchToken     = "token"
	SearchReference = "reference"
	SearchComposite = "composite"
	SearchQuantity  = "quantity"
	SearchURI       = "uri"
	SearchSpecial   = "special"
)

// SearchParameter is a FHIR R4 search parameter.
type SearchParameter struct {
	Code string // the name used in URLs, e.g. birthdate or _lastUpdated
	Name string
	URL  string
	Type string // SearchToken, SearchReference, …
	// Expression is the FHIRPath expression that selects the values to
	// index. A parameter shared by several resource types (clinical-patient)
	// has one expression naming each of them; evaluate it on a resource of
	// one type and the other parts select nothing. Empty for _content,
	// _query, _text and other parameters the server implements itself.
	Expression string
	Base       []string // the resource types it is defined on
	Targets    []string // for reference parameters: the resource types it may point to
	Components []SearchComponent
	// MultipleOr and MultipleAnd are nil when the specification says
	// nothing.
	MultipleOr  *bool
	MultipleAnd *bool
	Modifiers   []string
	Comparators []string
}

// SearchComponent is one part of a composite search parameter.
type SearchComponent struct {
	Definition string // the URL of the component's search parameter
	Expression string // relative to the composite's expression
}

func (s *store) linkSearchParams(d *defs.Defs) {
	s.paramByURL = make(map[string]*SearchParameter, len(d.SearchParams))
	own := map[string][]*SearchParameter{}
	for i := range d.SearchParams {
		dp := &d.SearchParams[i]
		p := &SearchParameter{
			Code:        dp.Code,
			Name:        dp.Name,
			URL:         dp.URL,
			Type:        dp.Type,
			Expression:  dp.Expression,
			Base:        dp.Base,
			Targets:     dp.Targets,
			MultipleOr:  triState(dp.MultipleOr),
			MultipleAnd: triState(dp.MultipleAnd),
			Modifiers:   dp.Modifiers,
			Comparators: dp.Comparators,
		}
		for _, c := range dp.Components {
			p.Components = append(p.Components, SearchComponent(c))
		}
		s.params = append(s.params, p)
		s.paramByURL[p.URL] = p
		for _, b := range p.Base {
			own[b] = append(own[b], p)
		}
	}
	s.paramsOf = map[string][]*SearchParameter{}
	s.paramByCode = map[string]map[string]*SearchParameter{}
	for _, t := range s.types {
		if t.Kind != KindResource {
			continue
		}
		var list []*SearchParameter
		byCode := map[string]*SearchParameter{}
		for x := t; x != nil; x = x.BaseType {
			for _, p := range own[x.Name] {
				if byCode[p.Code] == nil {
					byCode[p.Code] = p
					list = append(list, p)
				}
			}
		}
		sort.Slice(list, func(i, j int) bool { return list[i].Code < list[j].Code })
		s.paramsOf[t.Name] = list
		s.paramByCode[t.Name] = byCode
	}
}

func triState(v int8) *bool {
	switch v {
	case 1:
		b := true
		return &b
	case 2:
		b := false
		return &b
	}
	return nil
}

// SearchParams returns the search parameters of a resource type, those
// defined on Resource and DomainResource included, sorted by code. It
// returns nil for a name that is not a resource type.
func SearchParams(resourceType string) []*SearchParameter {
	return data().paramsOf[resourceType]
}

// SearchParam returns the search parameter of a resource type with the
// given code (as used in URLs), including the ones every resource has
// (_id, _lastUpdated, …).
func SearchParam(resourceType, code string) (*SearchParameter, bool) {
	p, ok := data().paramByCode[resourceType][code]
	return p, ok
}

// SearchParamByURL returns the search parameter with the given canonical
// URL, as composite components name them.
func SearchParamByURL(url string) (*SearchParameter, bool) {
	p, ok := data().paramByURL[url]
	return p, ok
}

// AllSearchParams returns every search parameter, sorted by URL.
func AllSearchParams() []*SearchParameter { return data().params }
