package main

import "github.com/concord-health/concord/fhir/internal/defs"

func encode(r *result) ([]byte, error) { return defs.Encode(r.defs) }
