package convert

import (
	"strings"
)

// v2System returns the FHIR code system of HL7 v2 table nnnn.
func v2System(table string) string {
	return "http://terminology.hl7.org/CodeSystem/v2-" + table
}

// knownSystems maps HL7 table 0396 coding system names to FHIR code system
// URIs (HL7 Terminology, "HL7 v2 to FHIR code system names").
var knownSystems = map[string]string{
	"LN": "http://loinc.org", "LOINC": "http://loinc.org",
	"SCT": "http://snomed.info/sct", "SNM": "http://snomed.info/sct", "SNOMED": "http://snomed.info/sct", "SNOMEDCT": "http://snomed.info/sct",
	"I10": "http://hl7.org/fhir/sid/icd-10", "ICD10": "http://hl7.org/fhir/sid/icd-10",
	"I10C": "http://hl7.org/fhir/sid/icd-10-cm", "ICD10CM": "http://hl7.org/fhir/sid/icd-10-cm", "I10-CM": "http://hl7.org/fhir/sid/icd-10-cm",
	"I10P": "http://www.cms.gov/Medicare/Coding/ICD10", "ICD10PCS": "http://www.cms.gov/Medicare/Coding/ICD10",
	"I9": "http://hl7.org/fhir/sid/icd-9-cm", "I9C": "http://hl7.org/fhir/sid/icd-9-cm", "ICD9": "http://hl7.org/fhir/sid/icd-9-cm", "I9CM": "http://hl7.org/fhir/sid/icd-9-cm",
	"ICDO":   "http://terminology.hl7.org/CodeSystem/icd-o",
	"RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm",
	"CVX":    "http://hl7.org/fhir/sid/cvx", "MVX": "http://hl7.org/fhir/sid/mvx",
	"NDC": "http://hl7.org/fhir/sid/ndc", "UCUM": "http://unitsofmeasure.org",
	"C4": "http://www.ama-assn.org/go/cpt", "CPT": "http://www.ama-assn.org/go/cpt", "C5": "http://www.ama-assn.org/go/cpt", "CPT4": "http://www.ama-assn.org/go/cpt",
	"HCPCS": "urn:oid:2.16.840.1.113883.6.285", "HCPC": "urn:oid:2.16.840.1.113883.6.285",
	"NUCCPROVIDERTAXONOMY": "http://nucc.org/provider-taxonomy", "NUCC": "http://nucc.org/provider-taxonomy",
	"ISO3166_1": "urn:iso:std:iso:3166", "ISO3166": "urn:iso:std:iso:3166",
	"ISO639": "urn:ietf:bcp:47",
	"CDCREC": "urn:oid:2.16.840.1.113883.6.238",
	"UNII":   "http://fdasis.nlm.nih.gov",
	"NCIT":   "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl",
}

// CodeSystem returns the FHIR code system URI for a v2 coding system name
// (CWE-3): the standard URI for names HL7 table 0396 defines
// (http://loinc.org for LN, …; HL7nnnn and HL7-nnnn give the v2 table's
// code system), the name itself when it is already a URI or an OID
// (urn:oid:), and for anything else a system local to the sender:
// urn:concord:local:<sender>:<name> (internal/terminology's
// LocalSystem). It returns "" for an empty name.
func (c *Context) CodeSystem(name string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		return ""
	}
	up := strings.ToUpper(name)
	if s, ok := knownSystems[up]; ok {
		return s
	}
	if strings.HasPrefix(up, "HL7") {
		t := strings.TrimPrefix(strings.TrimPrefix(up, "HL7"), "-")
		if len(t) == 4 && isOID(t) {
			return v2System(t)
		}
	}
	if isOID(name) {
		return "urn:oid:" + name
	}
	if strings.HasPrefix(name, "http://") || strings.HasPrefix(name, "https://") || strings.HasPrefix(name, "urn:") {
		if !strings.ContainsAny(name, " \t|") {
			return name
		}
	}
	return localSystem(c.sender, name)
}

// localSystem is the URI of a sender's local code system (an empty name
// counts as L, HL7's "local" coding system).
func localSystem(sender, name string) string {
	if name == "" {
		name = "L"
	}
	return localCodeBase + uriPart(sender) + ":" + uriPart(name)
}

// The HL7 v2 table → FHIR code maps this package applies, from the IG's
// concept maps (codesystems/*.csv).
var (
	// AdministrativeSex (table 0001) → administrative-gender.
	genderMap = map[string]string{"F": "female", "M": "male", "O": "other", "U": "unknown", "A": "other", "N": "other"}
	// PatientClass[EncounterClass] (table 0004) → v3 ActCode (or v2-0004
	// where the IG keeps the v2 code).
	classMap = map[string][2]string{
		"E": {"http://terminology.hl7.org/CodeSystem/v3-ActCode", "EMER"},
		"I": {"http://terminology.hl7.org/CodeSystem/v3-ActCode", "IMP"},
		"O": {"http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB"},
		"P": {"http://terminology.hl7.org/CodeSystem/v3-ActCode", "PRENC"},
	}
	classDisplay = map[string]string{"EMER": "emergency", "IMP": "inpatient encounter", "AMB": "ambulatory", "PRENC": "pre-admission"}
	// PatientClass[EncounterStatus]: P is planned, U unknown, the others
	// in progress.
	classStatus = map[string]string{"P": "planned", "U": "unknown"}
	// Event[EncounterStatus] (table 0003 → encounter-status) as the IG
	// gives it (its A08 → unknown left out: an update keeps what the
	// visit says), with the cancellations and pending events of the same
	// meaning added (A12 cancel transfer, A14 pending admit, A27 cancel
	// pending admit, A38 cancel pre-admit).
	eventStatus = map[string]string{
		"A01": "in-progress", "A02": "in-progress", "A03": "finished", "A04": "planned", "A05": "planned",
		"A11": "cancelled", "A12": "in-progress", "A13": "in-progress",
		"A14": "planned", "A27": "cancelled", "A38": "cancelled",
	}
	// MaritalStatus (table 0002) → v3 MaritalStatus (or v3 NullFlavor).
	maritalMap = map[string]string{
		"A": "L", "D": "D", "M": "M", "S": "S", "W": "W", "C": "C", "G": "T", "P": "T", "R": "T",
		"E": "L", "N": "A", "I": "I", "B": "U", "U": "UNK", "O": "OTH", "T": "NAVU",
	}
	// AllergenType[AllergyIntoleranceCategory] (table 0127).
	allergyCategory = map[string]string{"DA": "medication", "FA": "food", "EA": "environment", "AA": "biologic", "PA": "environment", "LA": "environment"}
	// AllergyType: every allergen type of table 0127 but MC is an allergy.
	allergyType = map[string]string{"DA": "allergy", "FA": "allergy", "MA": "allergy", "EA": "allergy", "AA": "allergy", "PA": "allergy", "LA": "allergy"}
	// AllergySeverity (table 0128) → reaction severity, and criticality.
	reactionSeverity = map[string]string{"SV": "severe", "MO": "moderate", "MI": "mild"}
	criticalityMap   = map[string]string{"SV": "high", "MO": "low", "MI": "low", "U": "unable-to-assess"}
	// Relationship (table 0063) → v3 RoleCode (or v2-0063/v2-0131).
	relationshipMap = map[string][2]string{
		"SEL": {"v3-RoleCode", "ONESELF"}, "SPO": {"v3-RoleCode", "SPS"}, "DOM": {"v3-RoleCode", "SIGOTHR"},
		"CHD": {"v3-RoleCode", "CHILD"}, "GCH": {"v3-RoleCode", "GRNDCHILD"}, "NCH": {"v3-RoleCode", "NCHILD"},
		"SCH": {"v3-RoleCode", "STPCHLD"}, "FCH": {"v3-RoleCode", "CHLDFOST"}, "PAR": {"v3-RoleCode", "PRN"},
		"MTH": {"v3-RoleCode", "MTH"}, "FTH": {"v3-RoleCode", "FTH"}, "GRP": {"v3-RoleCode", "GRPRN"},
		"EXF": {"v3-RoleCode", "EXT"}, "SIB": {"v3-RoleCode", "SIB"}, "BRO": {"v3-RoleCode", "BRO"},
		"SIS": {"v3-RoleCode", "SIS"}, "FND": {"v3-RoleCode", "FRND"},
		"EMR": {"v2-0131", "E"}, "EMC": {"v2-0131", "C"}, "UNK": {"v2-0131", "U"}, "OTH": {"v2-0131", "O"},
	}
	// DiagnosisType (table 0052) → diagnosis-role (A admitting; W working
	// and F final have no equivalent and keep their v2 code).
	diagnosisRole = map[string]string{"A": "AD"}
)

// relationship maps a table 0063 code to a Coding of the IG's target.
func relationship(code, display string) map[string]any {
	if m, ok := relationshipMap[code]; ok {
		return map[string]any{"system": "http://terminology.hl7.org/CodeSystem/" + m[0], "code": m[1]}
	}
	co := map[string]any{"system": v2System("0063"), "code": code}
	setv(co, "display", display)
	return co
}
