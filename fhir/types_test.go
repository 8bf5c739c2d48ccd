package fhir

import (
	"slices"
	"testing"
)

func TestResourceTypes(t *testing.T) {
	// R4 4.0.1 has 146 concrete resource types: its resource-types code
	// system has 148 codes, Resource and DomainResource among them. (The
	// "145" often quoted is the R4 base CapabilityStatement, which leaves
	// out Parameters.)
	got := ResourceTypes()
	if len(got) != 146 {
		t.Fatalf("%d resource types, want 146", len(got))
	}
	if !slices.IsSorted(got) {
		t.Error("resource types not sorted")
	}
	for _, name := range []string{"Patient", "Observation", "Bundle", "Parameters", "Binary", "MedicinalProductUndesirableEffect"} {
		if !IsResource(name) {
			t.Errorf("IsResource(%q) = false", name)
		}
	}
	for _, name := range []string{"Resource", "DomainResource", "HumanName", "string", "SubscriptionStatus", "Bot", "MetadataResource", "patient"} {
		if IsResource(name) {
			t.Errorf("IsResource(%q) = true", name)
		}
	}
	// The generated list and the decoded types agree.
	var fromData []string
	for _, ty := range Types() {
		if ty.Kind == KindResource && !ty.Abstract {
			fromData = append(fromData, ty.Name)
		}
	}
	slices.Sort(fromData)
	if !slices.Equal(fromData, got) {
		t.Error("resourcetypes_gen.go does not match the definitions data")
	}
}

func TestTypes(t *testing.T) {
	cases := []struct {
		name, kind, base string
		abstract         bool
	}{
		{"Element", KindComplex, "", true},
		{"BackboneElement", KindComplex, "Element", true},
		{"Resource", KindResource, "", true},
		{"DomainResource", KindResource, "Resource", true},
		{"Patient", KindResource, "DomainResource", false},
		{"Bundle", KindResource, "Resource", false},
		{"HumanName", KindComplex, "Element", false},
		{"Age", KindComplex, "Quantity", false},
		{"positiveInt", KindPrimitive, "integer", false},
		{"code", KindPrimitive, "string", false},
		{"SimpleQuantity", KindComplex, "Quantity", false},
	}
	for _, c := range cases {
		ty, ok := Type(c.name)
		if !ok {
			t.Errorf("Type(%q) not found", c.name)
			continue
		}
		if ty.Kind != c.kind || ty.Base != c.base || ty.Abstract != c.abstract {
			t.Errorf("%s: kind %s base %q abstract %v, want %s %q %v", c.name, ty.Kind, ty.Base, ty.Abstract, c.kind, c.base, c.abstract)
		}
	}
	if _, ok := Type("SubscriptionStatus"); ok {
		t.Error("SubscriptionStatus (R4B, added by Medplum) is present")
	}
	p, _ := Type("Patient")
	if !p.IsA("DomainResource") || !p.IsA("Resource") || p.IsA("Element") {
		t.Error("Patient.IsA wrong")
	}
	if sq, _ := Type("SimpleQuantity"); !sq.Profile {
		t.Error("SimpleQuantity is not marked as a profile")
	} else if _, ok := sq.Element("SimpleQuantity.comparator"); !ok {
		t.Error("SimpleQuantity.comparator missing")
	}
	// 63 types and 148 resources (with Resource, DomainResource) and the
	// MetadataResource logical model.
	if n := len(Types()); n != 63+148+1 {
		t.Errorf("%d types, want 212", n)
	}
}

func TestPrimitives(t *testing.T) {
	want := map[string]string{
		"boolean": "System.Boolean", "integer": "System.Integer", "positiveInt": "System.Integer",
		"unsignedInt": "System.Integer", "decimal": "System.Decimal", "date": "System.Date",
		"dateTime": "System.DateTime", "instant": "System.DateTime", "time": "System.Time",
		"string": "System.String", "code": "System.String", "id": "System.String",
		"markdown": "System.String", "uri": "System.String", "url": "System.String",
		"canonical": "System.String", "oid": "System.String", "uuid": "System.String",
		"base64Binary": "System.String", "xhtml": "System.String",
	}
	n := 0
	for _, ty := range Types() {
		if ty.Kind != KindPrimitive {
			continue
		}
		n++
		if ty.SystemType != want[ty.Name] {
			t.Errorf("%s: system type %q, want %q", ty.Name, ty.SystemType, want[ty.Name])
		}
	}
	if n != len(want) {
		t.Errorf("%d primitives, want %d", n, len(want))
	}
	regex := map[string]string{
		"id":          `[A-Za-z0-9\-\.]{1,64}`,
		"positiveInt": `[1-9][0-9]*`,
		"date":        `([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?`,
	}
	for name, re := range regex {
		ty, _ := Type(name)
		if ty.Regex != re {
			t.Errorf("%s regex %q, want %q", name, ty.Regex, re)
		}
	}
	if ty, _ := Type("xhtml"); ty.Regex != "" {
		t.Errorf("xhtml has a regex %q", ty.Regex)
	}
}

func TestElements(t *testing.T) {
	obs, _ := Type("Observation")
	v, ok := obs.Element("Observation.value[x]")
	if !ok {
		t.Fatal("Observation.value[x] missing")
	}
	var codes []string
	for _, tr := range v.Types {
		codes = append(codes, tr.Code)
	}
	want := []string{"Quantity", "CodeableConcept", "string", "boolean", "integer", "Range", "Ratio", "SampledData", "time", "dateTime", "Period"}
	if !slices.Equal(codes, want) {
		t.Errorf("Observation.value[x] types %v, want %v", codes, want)
	}
	var choiceNames []string
	for _, tr := range v.Types {
		choiceNames = append(choiceNames, tr.ChoiceName)
	}
	if want := []string{"valueQuantity", "valueCodeableConcept", "valueString", "valueBoolean", "valueInteger", "valueRange",
		"valueRatio", "valueSampledData", "valueTime", "valueDateTime", "valuePeriod"}; !slices.Equal(choiceNames, want) {
		t.Errorf("Observation.value[x] JSON names %v, want %v", choiceNames, want)
	}
	if !v.IsChoice() || v.Min != 0 || v.Max != 1 || !v.IsSummary {
		t.Errorf("Observation.value[x]: choice %v %d..%d summary %v", v.IsChoice(), v.Min, v.Max, v.IsSummary)
	}

	pat, _ := Type("Patient")
	cn, _ := pat.Element("Patient.contact.name")
	if cn == nil || cn.Max != 1 || cn.Types[0].Code != "HumanName" {
		t.Errorf("Patient.contact.name: %+v", cn)
	}
	if e, _ := pat.Element("Patient.name"); e.Max != -1 || !e.IsArray() {
		t.Errorf("Patient.name max %d", e.Max)
	}
	g, _ := pat.Element("Patient.gender")
	if g.Binding != (Binding{Strength: "required", ValueSet: "http://hl7.org/fhir/ValueSet/administrative-gender"}) {
		t.Errorf("Patient.gender binding %+v", g.Binding)
	}
	if e, _ := pat.Element("Patient.active"); !e.IsModifier || !e.IsSummary {
		t.Error("Patient.active should be a modifier and in the summary")
	}
	// Definition order: the inherited elements first, as in the spec.
	var names []string
	for _, e := range pat.Elements[:6] {
		names = append(names, e.Path)
	}
	if !slices.Equal(names, []string{"Patient", "Patient.id", "Patient.meta", "Patient.implicitRules", "Patient.language", "Patient.text"}) {
		t.Errorf("Patient's first elements %v", names)
	}
	var kids []string
	for _, c := range pat.Root().Children[len(pat.Root().Children)-3:] {
		kids = append(kids, c.Name)
	}
	if !slices.Equal(kids, []string{"generalPractitioner", "managingOrganization", "link"}) {
		t.Errorf("Patient's last children %v", kids)
	}

	// Reference targets are type names.
	subj, _ := obs.Element("Observation.subject")
	if !slices.Equal(subj.Types[0].Targets, []string{"Patient", "Group", "Device", "Location"}) {
		t.Errorf("Observation.subject targets %v", subj.Types[0].Targets)
	}
	// Medplum's own resources are not targets.
	who, _ := Type("AuditEvent")
	w, _ := who.Element("AuditEvent.agent.who")
	if slices.Contains(w.Types[0].Targets, "Bot") || len(w.Types[0].Targets) != 6 {
		t.Errorf("AuditEvent.agent.who targets %v", w.Types[0].Targets)
	}
	// Range.low is a SimpleQuantity.
	r, _ := Type("Range")
	low, _ := r.Element("Range.low")
	if low.Types[0].Code != "Quantity" || !slices.Equal(low.Types[0].Profiles, []string{"SimpleQuantity"}) {
		t.Errorf("Range.low types %+v", low.Types)
	}
}

func TestNoMedplumElements(t *testing.T) {
	for _, path := range []string{"Meta.project", "Meta.author", "Meta.compartment", "Binary.url", "ResearchStudy.label", "HealthcareService.offeredIn", "ObservationDefinition.publisher", "DeviceDefinition.classification"} {
		if _, ok := Element(path); ok {
			t.Errorf("%s (not R4) is present", path)
		}
	}
	// EvidenceVariable's R4 elements, missing from Medplum's snapshot, are back.
	ev, _ := Type("EvidenceVariable")
	for _, path := range []string{"EvidenceVariable.characteristic.definition[x]", "EvidenceVariable.characteristic.usageContext", "EvidenceVariable.characteristic.timeFromStart", "EvidenceVariable.characteristic.groupMeasure"} {
		e, ok := ev.Element(path)
		if !ok {
			t.Errorf("%s missing", path)
			continue
		}
		if len(e.Constraints) == 0 || e.Constraints[0].Key != "ele-1" {
			t.Errorf("%s lacks ele-1", path)
		}
	}
	if c, _ := ev.Element("EvidenceVariable.characteristic"); c.Min != 1 {
		t.Errorf("EvidenceVariable.characteristic min %d, want 1", c.Min)
	}
	m, _ := Type("Meta")
	if n := len(m.Elements); n != 9 {
		t.Errorf("Meta has %d elements, want 9", n)
	}
}

func TestConstraints(t *testing.T) {
	el, _ := Type("Element")
	if !hasConstraint(el.Root(), "ele-1", "hasValue() or (children().count() > id.count())") {
		t.Error("ele-1 missing on Element")
	}
	dr, _ := Type("DomainResource")
	for _, key := range []string{"dom-2", "dom-3", "dom-4", "dom-5", "dom-6"} {
		if !hasConstraint(dr.Root(), key, "") {
			t.Errorf("%s missing on DomainResource", key)
		}
	}
	// Resources carry the constraints of their bases, and every element
	// but the roots and ids carries ele-1.
	p, _ := Type("Patient")
	if !hasConstraint(p.Root(), "dom-2", "") {
		t.Error("dom-2 missing on Patient")
	}
	if c, _ := p.Element("Patient.contact"); !hasConstraint(c, "pat-1", "name.exists() or telecom.exists() or address.exists() or organization.exists()") || !hasConstraint(c, "ele-1", "") {
		t.Error("Patient.contact lacks pat-1 or ele-1")
	}
	if c, _ := p.Element("Patient.contact"); c.Constraints[0].Source != "Element" {
		t.Errorf("ele-1 source %q", c.Constraints[0].Source)
	}
	// The R4 text, not Medplum's rewrite.
	tm, _ := Type("Timing")
	if r, _ := tm.Element("Timing.repeat"); !hasConstraint(r, "tim-9", "offset.empty() or (when.exists() and ((when in ('C' | 'CM' | 'CD' | 'CV')).not()))") {
		t.Error("tim-9 is not the R4 expression")
	}
}

func hasConstraint(e *ElementDef, key, expr string) bool {
	for _, c := range e.Constraints {
		if c.Key == key && (expr == "" || c.Expression == expr) && c.Severity != "" && c.Human != "" {
			return true
		}
	}
	return false
}
