package convert

// FHIR → HL7 v2, the outbound half of the package (issue 6, point 5).
// OrderMessage, ResultMessage and PatientMessage each take FHIR R4
// resources as JSON and return one HL7 v2 message in ER7 with the
// standard delimiters; they read no store and open no connection. The
// store's change log decides when to call them (see docs/NOTES.md).

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

// ErrNoOutboundMessage is returned (wrapped, with the reason) when a
// resource's change calls for no message: a draft or completed order, an
// order cancelled before it was ever sent, a report that is not yet
// released. Callers test for it with errors.Is and skip the change.
var ErrNoOutboundMessage = errors.New("no message to send for this change")

// OutboundDefaultVersion is the HL7 version outbound messages declare
// when the options name none.
const OutboundDefaultVersion = "2.5.1"

// OutboundDefaultNamespace is the assigning authority namespace of the
// identifiers Concord makes from resource ids (OutboundIDSystem): a
// ServiceRequest with no identifier is sent with ORC-2 "<id>^CONCORD".
const OutboundDefaultNamespace = "CONCORD"

// OutboundIDSystem is the identifier system of identifiers made from
// resource ids: the placer order number of a ServiceRequest that has no
// identifier is {system: OutboundIDSystem, value: <id>}, written in HL7
// with the namespace OutboundOptions.Namespace. A converter reading the
// filler's answer finds the ServiceRequest by that id.
const OutboundIDSystem = "urn:concord:id"

// OutboundOptions say how an outbound message is addressed and written.
// The zero value is usable apart from ControlID, which the caller must
// give (the engine's message ID, or a counter; tests use fixed values).
type OutboundOptions struct {
	// Version is MSH-12: 2.5 to 2.8.2, or 2.3 to 2.4 for ORM, ORU and ADT
	// (CE and TS instead of CWE and DTM, no SPM or TQ1); default 2.5.1.
	Version string
	// SendingApplication, SendingFacility, ReceivingApplication and
	// ReceivingFacility are MSH-3 to MSH-6, as namespace IDs.
	SendingApplication, SendingFacility     string
	ReceivingApplication, ReceivingFacility string
	// ControlID is MSH-10, required.
	ControlID string
	// Time is MSH-7 and EVN-2; the zero time means now.
	Time time.Time
	// ProcessingID is MSH-11: P (default), T or D.
	ProcessingID string
	// AcceptAck and ApplicationAck are MSH-15 and MSH-16 (AL, NE, ER,
	// SU); empty asks for original-mode acknowledgment.
	AcceptAck, ApplicationAck string
	// OrderType is the order message OrderMessage writes: "ORM^O01",
	// "OML^O21" or "OMI^O23". Empty means OMI^O23 for an imaging order
	// (see OutboundIsImaging) and OML^O21 for any other.
	OrderType string
	// Namespace is the assigning authority namespace of identifiers made
	// from resource ids (see OutboundIDSystem); default
	// OutboundDefaultNamespace.
	Namespace string
	// Authorities maps identifier system URIs to the assigning authority
	// namespaces (HD-1) the receiver knows them by, such as
	// "urn:oid:2.16.840.1.113883.19.5" → "HOSP". A system not listed is
	// written as its OID (urn:oid:) or as a URI (HD-2, HD-3 "URI").
	Authorities map[string]string
	// CodingSystems maps code system URIs to coding system names (table
	// 0396) beyond the well-known ones; a system neither lists is "L".
	CodingSystems map[string]string
}

// outConv is the state of one conversion: the options with their
// defaults applied, and the first error met.
type outConv struct {
	opt    OutboundOptions
	legacy bool // version before 2.5: CE and TS, no SPM or TQ1
	err    error
}

// outNewConv checks the options and applies their defaults.
func outNewConv(opt OutboundOptions) (*outConv, error) {
	if opt.Version == "" {
		opt.Version = OutboundDefaultVersion
	}
	legacy := false
	switch opt.Version {
	case "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2":
	case "2.3", "2.3.1", "2.4":
		legacy = true
	default:
		return nil, concord.Errorf(concord.EUNSUPPORTED, "convert: HL7 version %q: outbound messages are written in 2.3 to 2.8.2", opt.Version)
	}
	if strings.TrimSpace(opt.ControlID) == "" {
		return nil, concord.Errorf(concord.EINVALID, "convert: a message control ID (MSH-10) is needed")
	}
	if opt.ProcessingID == "" {
		opt.ProcessingID = "P"
	}
	if opt.Namespace == "" {
		opt.Namespace = OutboundDefaultNamespace
	}
	if opt.Time.IsZero() {
		opt.Time = time.Now()
	}
	return &outConv{opt: opt, legacy: legacy}, nil
}

// fail keeps the first error of a conversion.
func (c *outConv) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// versionAtLeast reports whether the message version is v or later.
func (c *outConv) versionAtLeast(v string) bool {
	order := []string{"2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2"}
	at := func(s string) int {
		for i, o := range order {
			if o == s {
				return i
			}
		}
		return -1
	}
	return at(c.opt.Version) >= at(v)
}

// message assembles the header and the built segments into a message,
// checks that it parses and passes hl7v2.Validate without errors, and
// returns its bytes. msgType is MSH-9 encoded ("ADT^A08^ADT_A01").
func (c *outConv) message(msgType string, segs []*outSeg) ([]byte, error) {
	if c.err != nil {
		return nil, c.err
	}
	m, err := hl7v2.New(hl7v2.DefaultDelimiters)
	if err != nil {
		return nil, concord.WrapError(concord.EINTERNAL, err, "convert: new message")
	}
	set := func(path, text string) {
		if err == nil && text != "" {
			err = m.Set(path, text)
		}
	}
	set("MSH-3", c.opt.SendingApplication)
	set("MSH-4", c.opt.SendingFacility)
	set("MSH-5", c.opt.ReceivingApplication)
	set("MSH-6", c.opt.ReceivingFacility)
	set("MSH-7", hl7v2.FormatTime(c.opt.Time, hl7v2.PrecisionSecond, true))
	if c.opt.Version == "2.3" {
		// MSH-9.3 (message structure) came in v2.3.1.
		msgType = strings.Join(strings.SplitN(msgType, "^", 3)[:2], "^")
	}
	if err == nil {
		err = m.SetRaw("MSH-9", []byte(msgType))
	}
	set("MSH-10", c.opt.ControlID)
	set("MSH-11", c.opt.ProcessingID)
	set("MSH-12", c.opt.Version)
	set("MSH-15", c.opt.AcceptAck)
	set("MSH-16", c.opt.ApplicationAck)
	for _, s := range segs {
		if err == nil {
			err = m.AppendSegment(s.encode())
		}
	}
	if err != nil {
		return nil, concord.WrapError(concord.EINVALID, err, "convert: build %s", msgType)
	}
	if outNonASCII(m.Bytes()) {
		if err := m.Set("MSH-18", "UNICODE UTF-8"); err != nil {
			return nil, concord.WrapError(concord.EINTERNAL, err, "convert: set MSH-18")
		}
	}
	out := m.Bytes()
	back, err := hl7v2.Parse(out)
	if err != nil {
		return nil, concord.WrapError(concord.EINTERNAL, err, "convert: the %s written does not parse", msgType)
	}
	for _, is := range hl7v2.Validate(back, hl7v2.ValidateOptions{}) {
		if is.Severity == hl7v2.SeverityError {
			return nil, concord.Errorf(concord.EINVALID, "convert: the %s written is not valid HL7: %s", msgType, is.Text)
		}
	}
	return out, nil
}

func outNonASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// outNothing returns ErrNoOutboundMessage with the reason.
func outNothing(format string, args ...any) error {
	return concord.WrapError(concord.EINVALID, ErrNoOutboundMessage, "convert: %s", fmt.Sprintf(format, args...))
}

// The segments several messages share.

// pid writes a Patient as a PID segment: identifiers (PID-3), names
// (PID-5), birth date (PID-7), sex (PID-8), addresses (PID-11), home and
// business telecom (PID-13, PID-14), marital status (PID-16) and death
// (PID-29, PID-30).
func (c *outConv) pid(p *outPatient) *outSeg {
	s := outNewSeg("PID")
	s.set(1, "1")
	var ids []string
	for i, id := range p.Identifier {
		ids = append(ids, c.cx(id, fmt.Sprintf("Patient.identifier[%d]", i)))
	}
	if len(ids) == 0 || outReps(ids) == "" {
		// PID-3 is required: fall back to the resource id in the
		// placer namespace, so the receiver still has a key.
		if p.ID != "" {
			ids = []string{c.cx(outIdentifier{System: OutboundIDSystem, Value: p.ID,
				Type: &outCodeableConcept{Coding: []outCoding{{Code: "PI"}}}}, "Patient.id")}
		}
	}
	s.set(3, outReps(ids))
	if s.field(3) == "" {
		c.fail(concord.Errorf(concord.EINVALID, "convert: a Patient has neither an identifier nor an id for PID-3"))
	}
	var names []string
	for _, n := range p.Name {
		names = append(names, c.xpn(n))
	}
	s.set(5, outReps(names))
	s.set(7, c.dtm("Patient.birthDate", p.BirthDate))
	s.set(8, map[string]string{"male": "M", "female": "F", "other": "O", "unknown": "U"}[p.Gender])
	var addrs []string
	for _, a := range p.Address {
		addrs = append(addrs, c.xad(a))
	}
	s.set(11, outReps(addrs))
	var home, work []string
	for _, cp := range p.Telecom {
		if cp.Use == "work" {
			work = append(work, c.xtn(cp))
		} else {
			home = append(home, c.xtn(cp))
		}
	}
	s.set(13, outReps(home))
	s.set(14, outReps(work))
	if p.MaritalStatus != nil {
		s.set(16, c.cwe(p.MaritalStatus, "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"))
	}
	if p.DeceasedDateTime != "" {
		s.set(29, c.dtm("Patient.deceasedDateTime", p.DeceasedDateTime))
		s.set(30, "Y")
	} else if p.DeceasedBoolean != nil {
		s.set(30, map[bool]string{true: "Y", false: "N"}[*p.DeceasedBoolean])
	}
	return s
}

// outPatientClass maps Encounter.class (v3 ActCode) to PV1-2 (table
// 0004), the reverse of the v2-to-FHIR IG's PatientClass map.
var outPatientClass = map[string]string{
	"EMER": "E", "IMP": "I", "ACUTE": "I", "NONAC": "I", "AMB": "O", "OBSENC": "O", "SS": "O", "HH": "O",
	"FLD": "O", "VR": "O", "PRENC": "P",
}

// pv1 writes an Encounter as a PV1 segment: class (PV1-2), visit number
// (PV1-19, the identifier of type VN or else the first), admit and
// discharge times (PV1-44, PV1-45). Without an Encounter it writes
// PV1|1|class, with the class the caller gives.
func (c *outConv) pv1(e *outEncounter, none string) *outSeg {
	s := outNewSeg("PV1")
	s.set(1, "1")
	if e == nil {
		s.set(2, none)
		return s
	}
	class := "U"
	if e.Class != nil {
		if e.Class.System == "http://terminology.hl7.org/CodeSystem/v2-0004" && e.Class.Code != "" {
			class = outEsc(e.Class.Code)
		} else if v, ok := outPatientClass[e.Class.Code]; ok {
			class = v
		}
	}
	s.set(2, class)
	if id, ok := outPick(e.Identifier, "VN"); ok {
		s.set(19, c.cx(id, "Encounter.identifier"))
	}
	if e.Period != nil {
		s.set(44, c.dtm("Encounter.period.start", e.Period.Start))
		s.set(45, c.dtm("Encounter.period.end", e.Period.End))
	}
	return s
}

// outPick returns the identifier of type typ (table 0203), else the first
// with a value.
func outPick(ids []outIdentifier, typ string) (outIdentifier, bool) {
	for _, id := range ids {
		if id.Value != "" && outHasType(id, typ) {
			return id, true
		}
	}
	for _, id := range ids {
		if id.Value != "" {
			return id, true
		}
	}
	return outIdentifier{}, false
}

// outTyped returns the identifier of type typ only.
func outTyped(ids []outIdentifier, typ string) (outIdentifier, bool) {
	for _, id := range ids {
		if id.Value != "" && outHasType(id, typ) {
			return id, true
		}
	}
	return outIdentifier{}, false
}

// nte writes notes as NTE segments numbered from 1.
func (c *outConv) nte(notes []outAnnotation) []*outSeg {
	var segs []*outSeg
	for _, n := range notes {
		if strings.TrimSpace(n.Text) == "" {
			continue
		}
		s := outNewSeg("NTE")
		s.set(1, fmt.Sprint(len(segs)+1))
		s.text(3, n.Text)
		segs = append(segs, s)
	}
	return segs
}

// spm writes a Specimen as an SPM segment: specimen ID (SPM-2: the
// identifier as placer, the accession identifier as filler), type
// (SPM-4), collection site (SPM-8), quantity (SPM-12), collection time
// (SPM-17) and received time (SPM-18).
func (c *outConv) spm(n int, sp *outSpecimen) *outSeg {
	s := outNewSeg("SPM")
	s.set(1, fmt.Sprint(n))
	var placer, filler string
	if id, ok := outPick(sp.Identifier, "PLAC"); ok {
		placer = outSubs(c.eiParts(id)...)
	}
	if sp.AccessionIdentifier != nil {
		filler = outSubs(c.eiParts(*sp.AccessionIdentifier)...)
	}
	if placer == "" && filler == "" && sp.ID != "" {
		placer = outSubs(c.eiParts(outIdentifier{System: OutboundIDSystem, Value: sp.ID})...)
	}
	s.set(2, outComps(placer, filler))
	s.set(4, c.cwe(sp.Type, "http://terminology.hl7.org/CodeSystem/v2-0487"))
	if col := sp.Collection; col != nil {
		s.set(8, c.cwe(col.BodySite, "http://snomed.info/sct"))
		if q := col.Quantity; q != nil && q.Value != "" {
			s.set(12, outComps(c.nm("Specimen.collection.quantity", q.Value), outSubs(c.unitParts(q)...)))
		}
		switch {
		case col.CollectedDateTime != "":
			s.set(17, c.dtm("Specimen.collection.collectedDateTime", col.CollectedDateTime))
		case col.CollectedPeriod != nil:
			s.set(17, outComps(c.dtm("Specimen.collection.collectedPeriod.start", col.CollectedPeriod.Start),
				c.dtm("Specimen.collection.collectedPeriod.end", col.CollectedPeriod.End)))
		}
	}
	s.set(18, c.dtm("Specimen.receivedTime", sp.ReceivedTime))
	return s
}

// unitParts returns the encoded components of a Quantity's unit as a
// CWE: the UCUM code, the unit text and "UCUM" for a UCUM unit; the code,
// text and system name for another system; the unit text alone when the
// quantity names no system.
func (c *outConv) unitParts(q *outQuantity) []string {
	text := q.Unit
	if q.System == "" || q.Code == "" {
		if text == "" {
			text = q.Code
		}
		if text == "" {
			return nil
		}
		return []string{outEsc(text)}
	}
	if text == "" {
		text = q.Code
	}
	return []string{outEsc(q.Code), outEsc(text), outEsc(c.systemName(q.System))}
}
