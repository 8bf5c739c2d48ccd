// Package search is the FHIR search of the clinical store, apart from
// SQL: it computes the search index of a resource (the values of every
// search parameter of its type, by evaluating the specification's FHIRPath
// expressions) and parses a search request into a concord.SearchQuery
// that a store runs.
package search
