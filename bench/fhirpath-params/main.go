// Command fhirpath-params prints, as JSON, the FHIRPath expression of
// every R4 search parameter by resource type (the ones every resource
// has included), for the JavaScript peer of BenchmarkSearchParams.
//
//	go run ./bench/fhirpath-params > params.json
package main

import (
	"encoding/json"
	"os"

	"github.com/concord-health/concord/fhir"
)

func main() {
	out := map[string][]string{}
	for _, t := range fhir.ResourceTypes() {
		for _, p := range fhir.SearchParams(t) {
			if p.Expression != "" {
				out[t] = append(out[t], p.Expression)
			}
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		os.Exit(1)
	}
}
