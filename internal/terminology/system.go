package terminology

import (
	"strings"
)

// Code system URIs Concord uses itself.
const (
	// LocalSystemPrefix starts the URI of a sender's local code system:
	// LocalSystemPrefix + escaped sender + ":" + escaped coding system
	// name (see LocalSystem).
	LocalSystemPrefix = "urn:concord:local:"
	// V2SystemPrefix starts the URI of an HL7 v2 table's code system
	// (followed by the four-digit table number).
	V2SystemPrefix = "http://terminology.hl7.org/CodeSystem/v2-"
	// UCUMSystem is the code system of UCUM units.
	UCUMSystem = "http://unitsofmeasure.org"
)

// codingSystems maps the names of HL7 v2 table 0396 (coding systems, as
// CWE-3 and CWE-6 carry them) to the URIs FHIR R4 and HL7's terminology
// (terminology.hl7.org) give the same code systems. Names not listed are
// treated as local to the sender (see SystemURI).
var codingSystems = map[string]string{
	"LN":         "http://loinc.org",
	"SCT":        "http://snomed.info/sct",
	"I10":        "http://hl7.org/fhir/sid/icd-10",
	"I10C":       "http://hl7.org/fhir/sid/icd-10-cm",
	"I10P":       "http://www.cms.gov/Medicare/Coding/ICD10",
	"I9C":        "http://hl7.org/fhir/sid/icd-9-cm",
	"I9CDX":      "http://hl7.org/fhir/sid/icd-9-cm",
	"RXNORM":     "http://www.nlm.nih.gov/research/umls/rxnorm",
	"NDC":        "http://hl7.org/fhir/sid/ndc",
	"CVX":        "http://hl7.org/fhir/sid/cvx",
	"MVX":        "http://terminology.hl7.org/CodeSystem/MVX",
	"C4":         "http://www.ama-assn.org/go/cpt",
	"HCPCS":      "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
	"HPC":        "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
	"UCUM":       UCUMSystem,
	"WC":         "http://www.whocc.no/atc",
	"FDAUNII":    "http://fdasis.nlm.nih.gov",
	"NDFRT":      "http://hl7.org/fhir/ndfrt",
	"MDC":        "urn:iso:std:iso:11073:10101",
	"DCM":        "http://dicom.nema.org/resources/ontology/DCM",
	"CDCREC":     "urn:oid:2.16.840.1.113883.6.238",
	"ISO3166_1":  "urn:iso:std:iso:3166",
	"ISO4217":    "urn:iso:std:iso:4217",
	"MEDIATYPE":  "urn:ietf:bcp:13",
	"NULLFL":     "http://terminology.hl7.org/CodeSystem/v3-NullFlavor",
	"ACTCODE":    "http://terminology.hl7.org/CodeSystem/v3-ActCode",
	"ROLECODE":   "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
	"ROLECLASS":  "http://terminology.hl7.org/CodeSystem/v3-RoleClass",
	"ENTITYCODE": "http://terminology.hl7.org/CodeSystem/v3-EntityCode",
}

// codingSystemNames is codingSystems the other way round: the preferred
// table 0396 name of each URI.
var codingSystemNames = func() map[string]string {
	out := map[string]string{}
	for name, uri := range codingSystems {
		if prev, ok := out[uri]; !ok || len(name) < len(prev) || len(name) == len(prev) && name < prev {
			out[uri] = name
		}
	}
	return out
}()

// SystemURI returns the code system URI of a coding system as an HL7 v2
// message names it (CWE-3 or CWE-6) for codes from sender (MSH-3^MSH-4):
//
//   - a URI (http:, https:, urn:) is returned as it is;
//   - a table 0396 name of a standard code system (LN, SCT, I10, RXNORM,
//     …; case does not matter) becomes that system's URI;
//   - HL7nnnn (an HL7 table) becomes V2SystemPrefix + nnnn;
//   - anything else — L, 99zzz, LB, an empty name, or a name Concord does
//     not know — is the sender's own: LocalSystem(sender, name).
//
// local reports the last case: such codes need a ConceptMap to become
// standard ones.
func SystemURI(sender, name string) (uri string, local bool) {
	name = strings.TrimSpace(name)
	if isURI(name) {
		return name, strings.HasPrefix(name, LocalSystemPrefix)
	}
	up := strings.ToUpper(name)
	if uri, ok := codingSystems[up]; ok {
		return uri, false
	}
	if t, ok := strings.CutPrefix(up, "HL7"); ok && len(t) == 4 && isDigits(t) {
		return V2SystemPrefix + t, false
	}
	return LocalSystem(sender, name), true
}

// CodingSystemName returns the HL7 v2 table 0396 name of a code system
// URI (http://loinc.org → LN, an HL7 table's URI → HL7nnnn), for
// messages Concord writes; ok is false for a URI it does not know.
func CodingSystemName(uri string) (string, bool) {
	if name, ok := codingSystemNames[uri]; ok {
		return name, true
	}
	if t, ok := strings.CutPrefix(uri, V2SystemPrefix); ok && len(t) == 4 && isDigits(t) {
		return "HL7" + t, true
	}
	return "", false
}

// LocalSystem returns the URI Concord gives a sender's local code system:
// LocalSystemPrefix, the sender (MSH-3^MSH-4), a colon and the coding
// system's name (an empty name counts as L), each percent-encoded but for
// letters, digits and "-._~". For sender LAB^NORTH and name 99LAB it is
// urn:concord:local:LAB%5ENORTH:99LAB. The converter stores local codes
// under this system, and operators map them with a ConceptMap group whose
// source is this URI.
func LocalSystem(sender, name string) string {
	if name == "" {
		name = "L"
	}
	return LocalSystemPrefix + URIPart(sender) + ":" + URIPart(name)
}

// isURI reports whether s is an absolute URI of a scheme used for code
// systems.
func isURI(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "urn:")
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// URIPart percent-encodes every byte of s but the unreserved URI
// characters (letters, digits, - . _ ~), for a part of one of Concord's
// URIs (local code systems here; identifier systems in internal/convert).
func URIPart(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
