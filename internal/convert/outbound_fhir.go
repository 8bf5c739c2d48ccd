package convert

import (
	"bytes"
	"encoding/json"

	"github.com/concord-health/concord"
)

// The FHIR R4 elements the outbound converters read. Each struct holds
// only the elements some HL7 v2 field is made from; everything else in a
// resource is ignored. Decimals are kept as json.Number so that their
// precision ("5.0" stays "5.0") reaches the message.

type outMeta struct {
	LastUpdated string `json:"lastUpdated"`
}

type outCoding struct {
	System  string `json:"system"`
	Version string `json:"version"`
	Code    string `json:"code"`
	Display string `json:"display"`
}

type outCodeableConcept struct {
	Coding []outCoding `json:"coding"`
	Text   string      `json:"text"`
}

type outIdentifier struct {
	Use      string              `json:"use"`
	Type     *outCodeableConcept `json:"type"`
	System   string              `json:"system"`
	Value    string              `json:"value"`
	Period   *outPeriod          `json:"period"`
	Assigner *outReference       `json:"assigner"`
}

type outReference struct {
	Reference  string         `json:"reference"`
	Type       string         `json:"type"`
	Identifier *outIdentifier `json:"identifier"`
	Display    string         `json:"display"`
}

type outPeriod struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type outHumanName struct {
	Use    string   `json:"use"`
	Text   string   `json:"text"`
	Family string   `json:"family"`
	Given  []string `json:"given"`
	Prefix []string `json:"prefix"`
	Suffix []string `json:"suffix"`
}

type outAddress struct {
	Use        string   `json:"use"`
	Type       string   `json:"type"`
	Text       string   `json:"text"`
	Line       []string `json:"line"`
	City       string   `json:"city"`
	District   string   `json:"district"`
	State      string   `json:"state"`
	PostalCode string   `json:"postalCode"`
	Country    string   `json:"country"`
}

type outContactPoint struct {
	System string `json:"system"`
	Value  string `json:"value"`
	Use    string `json:"use"`
}

type outQuantity struct {
	Value      json.Number `json:"value"`
	Comparator string      `json:"comparator"`
	Unit       string      `json:"unit"`
	System     string      `json:"system"`
	Code       string      `json:"code"`
}

type outRange struct {
	Low  *outQuantity `json:"low"`
	High *outQuantity `json:"high"`
}

type outRatio struct {
	Numerator   *outQuantity `json:"numerator"`
	Denominator *outQuantity `json:"denominator"`
}

type outAnnotation struct {
	Text string `json:"text"`
}

// outTiming is the part of a FHIR Timing the order messages use: the
// first event, or the start of the repeat's bounds, and whether it
// repeats at all.
type outTiming struct {
	Event  []string `json:"event"`
	Repeat *struct {
		BoundsPeriod *outPeriod `json:"boundsPeriod"`
	} `json:"repeat"`
}

type outPatientLink struct {
	Other outReference `json:"other"`
	Type  string       `json:"type"`
}

type outPatient struct {
	ResourceType     string              `json:"resourceType"`
	ID               string              `json:"id"`
	Meta             outMeta             `json:"meta"`
	Identifier       []outIdentifier     `json:"identifier"`
	Active           *bool               `json:"active"`
	Name             []outHumanName      `json:"name"`
	Telecom          []outContactPoint   `json:"telecom"`
	Gender           string              `json:"gender"`
	BirthDate        string              `json:"birthDate"`
	DeceasedBoolean  *bool               `json:"deceasedBoolean"`
	DeceasedDateTime string              `json:"deceasedDateTime"`
	Address          []outAddress        `json:"address"`
	MaritalStatus    *outCodeableConcept `json:"maritalStatus"`
	Link             []outPatientLink    `json:"link"`
}

type outEncounter struct {
	ResourceType string          `json:"resourceType"`
	ID           string          `json:"id"`
	Identifier   []outIdentifier `json:"identifier"`
	Status       string          `json:"status"`
	Class        *outCoding      `json:"class"`
	Period       *outPeriod      `json:"period"`
}

type outPractitioner struct {
	ResourceType string          `json:"resourceType"`
	ID           string          `json:"id"`
	Identifier   []outIdentifier `json:"identifier"`
	Name         []outHumanName  `json:"name"`
}

type outServiceRequest struct {
	ResourceType       string               `json:"resourceType"`
	ID                 string               `json:"id"`
	Meta               outMeta              `json:"meta"`
	Identifier         []outIdentifier      `json:"identifier"`
	Status             string               `json:"status"`
	Intent             string               `json:"intent"`
	Category           []outCodeableConcept `json:"category"`
	Priority           string               `json:"priority"`
	Code               *outCodeableConcept  `json:"code"`
	Subject            *outReference        `json:"subject"`
	OccurrenceDateTime string               `json:"occurrenceDateTime"`
	OccurrencePeriod   *outPeriod           `json:"occurrencePeriod"`
	OccurrenceTiming   *outTiming           `json:"occurrenceTiming"`
	AuthoredOn         string               `json:"authoredOn"`
	Requester          *outReference        `json:"requester"`
	ReasonCode         []outCodeableConcept `json:"reasonCode"`
	Note               []outAnnotation      `json:"note"`
}

type outSpecimen struct {
	ResourceType        string              `json:"resourceType"`
	ID                  string              `json:"id"`
	Identifier          []outIdentifier     `json:"identifier"`
	AccessionIdentifier *outIdentifier      `json:"accessionIdentifier"`
	Type                *outCodeableConcept `json:"type"`
	ReceivedTime        string              `json:"receivedTime"`
	Collection          *struct {
		CollectedDateTime string              `json:"collectedDateTime"`
		CollectedPeriod   *outPeriod          `json:"collectedPeriod"`
		Quantity          *outQuantity        `json:"quantity"`
		BodySite          *outCodeableConcept `json:"bodySite"`
	} `json:"collection"`
}

type outDiagnosticReport struct {
	ResourceType      string               `json:"resourceType"`
	ID                string               `json:"id"`
	Meta              outMeta              `json:"meta"`
	Identifier        []outIdentifier      `json:"identifier"`
	Status            string               `json:"status"`
	Category          []outCodeableConcept `json:"category"`
	Code              *outCodeableConcept  `json:"code"`
	EffectiveDateTime string               `json:"effectiveDateTime"`
	EffectivePeriod   *outPeriod           `json:"effectivePeriod"`
	Issued            string               `json:"issued"`
	Conclusion        string               `json:"conclusion"`
}

type outObservationComponent struct {
	Code                 *outCodeableConcept  `json:"code"`
	ValueQuantity        *outQuantity         `json:"valueQuantity"`
	ValueCodeableConcept *outCodeableConcept  `json:"valueCodeableConcept"`
	ValueString          *string              `json:"valueString"`
	ValueBoolean         *bool                `json:"valueBoolean"`
	ValueInteger         *json.Number         `json:"valueInteger"`
	ValueRange           *outRange            `json:"valueRange"`
	ValueRatio           *outRatio            `json:"valueRatio"`
	ValueTime            *string              `json:"valueTime"`
	ValueDateTime        *string              `json:"valueDateTime"`
	ValuePeriod          *outPeriod           `json:"valuePeriod"`
	Interpretation       []outCodeableConcept `json:"interpretation"`
	ReferenceRange       []outReferenceRange  `json:"referenceRange"`
}

type outReferenceRange struct {
	Low  *outQuantity `json:"low"`
	High *outQuantity `json:"high"`
	Text string       `json:"text"`
}

type outObservation struct {
	ResourceType string          `json:"resourceType"`
	ID           string          `json:"id"`
	Identifier   []outIdentifier `json:"identifier"`
	Status       string          `json:"status"`
	outObservationComponent
	EffectiveDateTime string                    `json:"effectiveDateTime"`
	EffectivePeriod   *outPeriod                `json:"effectivePeriod"`
	EffectiveInstant  string                    `json:"effectiveInstant"`
	Note              []outAnnotation           `json:"note"`
	Component         []outObservationComponent `json:"component"`
}

// outDecode reads one resource of type want from data. Absent data
// (nil or JSON null) leaves v untouched and returns false; a resource of
// another type, or JSON that does not fit FHIR's shapes, is an EINVALID
// error naming what was expected.
func outDecode(data []byte, want string, v any) (bool, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || string(data) == "null" {
		return false, nil
	}
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return false, concord.WrapError(concord.EINVALID, err, "convert: %s: not a FHIR resource", want)
	}
	if head.ResourceType != want {
		return false, concord.Errorf(concord.EINVALID, "convert: want a %s, got resourceType %q", want, head.ResourceType)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, concord.WrapError(concord.EINVALID, err, "convert: %s", want)
	}
	return true, nil
}

// outParties are the resources around an order or a result: its
// patient, encounter, requester and specimens, each with whether it was
// given.
type outParties struct {
	pat            outPatient
	enc            outEncounter
	req            outPractitioner
	specimens      []*outSpecimen
	hasPat, hasEnc bool
	hasReq         bool
}

// outDecodeParties decodes the resources OrderMessage and ResultMessage
// both take.
func outDecodeParties(patient, encounter, requester []byte, specimens [][]byte) (*outParties, error) {
	p := &outParties{}
	var err error
	if p.hasPat, err = outDecode(patient, "Patient", &p.pat); err != nil {
		return nil, err
	}
	if p.hasEnc, err = outDecode(encounter, "Encounter", &p.enc); err != nil {
		return nil, err
	}
	if p.hasReq, err = outDecode(requester, "Practitioner", &p.req); err != nil {
		return nil, err
	}
	for _, data := range specimens {
		sp := new(outSpecimen)
		ok, err := outDecode(data, "Specimen", sp)
		if err != nil {
			return nil, err
		}
		if ok {
			p.specimens = append(p.specimens, sp)
		}
	}
	return p, nil
}
