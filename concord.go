// Package concord holds the domain types of the Concord integration hub and
// the small interfaces its parts talk through.
//
// Protocol and format packages (hl7v2, mllp, fhir, …) know nothing of the
// server. Adapters (storage, HTTP front doors, clinical modules) live under
// internal/ and depend on this package, never on each other. Wiring happens
// only in cmd/concord.
package concord

// Version is the release of this build. It is overridden at link time with
// -ldflags "-X github.com/concord-health/concord.Version=…".
var Version = "0.1.0-dev"
