// Package convert turns HL7 v2 messages into FHIR R4 transaction Bundles
// (inbound) following the HL7 v2-to-FHIR Implementation Guide's mapping
// tables, and FHIR resources back into HL7 v2 messages (outbound, in the
// outbound*.go files).
//
// Inbound, ToFHIR looks the message type and trigger up in a registry of
// message converters (RegisterMessage), each of which walks the message's
// segments in order through per-segment converters (RegisterSegment) that
// share a Context: the current patient, visit, and the last resource of
// each segment kind, so that a segment can complete what an earlier one
// began (IN2 the Coverage of its IN1, NTE the resource before it).
//
// Every resource is written as a conditional update on a business
// identifier (PUT Patient?identifier=system|value, Encounter from PV1-19,
// …) with a deterministic urn:uuid fullUrl, so that entries reference one
// another and replaying a message stores nothing new. Resources that carry
// no business identifier in HL7 v2 (allergies, diagnoses, procedures,
// coverages, next of kin) get one derived from the patient's identifier
// and what makes them distinct (see Context.DerivedIdentifier). One
// Provenance per message, created with ifNoneExist on the stored message's
// identifier, points at the raw message so that nothing is lost.
package convert
