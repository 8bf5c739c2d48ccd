package convert

import (
	"crypto/sha256"
	"math/big"
	"strings"

	"github.com/concord-health/concord"
)

// OutboundOrder is a new or changed ServiceRequest to send to the filler
// (the LIS or RIS), with the resources its message describes. Each
// resource is FHIR R4 JSON; all but ServiceRequest may be nil.
type OutboundOrder struct {
	// ServiceRequest is the order as it is now.
	ServiceRequest []byte
	// Previous is the version of the ServiceRequest before this change,
	// nil when the ServiceRequest is new. It decides between a new order
	// (NW), a change (XO), a hold (HD), a release (RL) and a cancel (CA).
	Previous []byte
	// Patient and Encounter give PID and PV1; without a Patient the
	// message has no patient group.
	Patient, Encounter []byte
	// Specimens give the SPM segments of OML^O21 and OBR-7 (the
	// collection time of the first).
	Specimens [][]byte
	// Requester is the Practitioner ServiceRequest.requester points to,
	// for ORC-12 and OBR-16.
	Requester []byte
	// Control, when set, is ORC-1 as given (a code of HL7 table 0119)
	// instead of the one the change calls for.
	Control string
}

// The order message types OrderMessage writes (OutboundOptions.OrderType).
const (
	OutboundORM = "ORM^O01"
	OutboundOML = "OML^O21"
	OutboundOMI = "OMI^O23"
)

// OrderMessage writes the order message a ServiceRequest's change calls
// for: ORM^O01, OML^O21 or OMI^O23 as the options choose, with PID and
// PV1 from the Patient and Encounter, ORC and OBR from the ServiceRequest
// (placer order number in ORC-2 and OBR-2: see OutboundPlacerNumber),
// TQ1 with the priority and occurrence (OBR-5 and OBR-27 in ORM), NTE
// for the notes, SPM for each Specimen (OML) and IPC (OMI).
//
// A change that calls for no message (a draft, a completed order, an
// order withdrawn before it was ever active) returns an error wrapping
// ErrNoOutboundMessage. Resources that are not valid JSON of the expected
// type are EINVALID errors.
func OrderMessage(in OutboundOrder, opt OutboundOptions) ([]byte, error) {
	c, err := outNewConv(opt)
	if err != nil {
		return nil, err
	}
	var sr, prev outServiceRequest
	ok, err := outDecode(in.ServiceRequest, "ServiceRequest", &sr)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, concord.Errorf(concord.EINVALID, "convert: an order message needs a ServiceRequest")
	}
	hasPrev, err := outDecode(in.Previous, "ServiceRequest", &prev)
	if err != nil {
		return nil, err
	}
	var prevp *outServiceRequest
	if hasPrev {
		prevp = &prev
	}
	control := in.Control
	if control == "" {
		if control, err = outOrderControl(&sr, prevp); err != nil {
			return nil, err
		}
	} else if len(control) != 2 || strings.ToUpper(control) != control {
		return nil, concord.Errorf(concord.EINVALID, "convert: order control %q is not a code of HL7 table 0119", control)
	}
	msgType := c.opt.OrderType
	if msgType == "" {
		msgType = OutboundOML
		if outIsImaging(&sr) {
			msgType = OutboundOMI
		}
	}
	switch msgType {
	case OutboundORM:
		if c.versionAtLeast("2.7") {
			return nil, concord.Errorf(concord.EUNSUPPORTED, "convert: ORM^O01 was withdrawn in HL7 v2.7; use OML^O21 or OMI^O23 for version %s", c.opt.Version)
		}
	case OutboundOML, OutboundOMI:
		if c.legacy {
			return nil, concord.Errorf(concord.EUNSUPPORTED, "convert: %s is written in HL7 v2.5 or later, not %s", msgType, c.opt.Version)
		}
	default:
		return nil, concord.Errorf(concord.EINVALID, "convert: order message type %q: want ORM^O01, OML^O21 or OMI^O23", msgType)
	}
	if sr.Code == nil || (len(sr.Code.Coding) == 0 && sr.Code.Text == "") {
		return nil, concord.Errorf(concord.EINVALID, "convert: ServiceRequest.code is needed for OBR-4 (universal service identifier)")
	}

	p, err := outDecodeParties(in.Patient, in.Encounter, in.Requester, in.Specimens)
	if err != nil {
		return nil, err
	}
	pat, hasPat, enc, hasEnc, req, hasReq, specimens := p.pat, p.hasPat, p.enc, p.hasEnc, p.req, p.hasReq, p.specimens

	var segs []*outSeg
	if hasPat {
		segs = append(segs, c.pid(&pat))
		if hasEnc {
			segs = append(segs, c.pv1(&enc, ""))
		} else {
			segs = append(segs, c.pv1(nil, "U"))
		}
	}
	placerID := outPlacerNumber(&sr)
	if placerID.Value == "" {
		return nil, concord.Errorf(concord.EINVALID, "convert: the ServiceRequest has neither an identifier nor an id for the placer order number")
	}
	placer := c.ei(placerID)
	var filler string
	if id, ok := outTyped(sr.Identifier, "FILL"); ok {
		filler = c.ei(id)
	}
	var provider string
	if hasReq {
		provider = c.xcn(&req, sr.Requester)
	} else {
		provider = c.xcn(nil, sr.Requester)
	}
	start, end := c.occurrence(&sr)
	priority := map[string]string{"stat": "S", "asap": "A", "urgent": "A", "routine": "R"}[sr.Priority]

	orc := outNewSeg("ORC")
	orc.set(1, control)
	orc.set(2, placer)
	orc.set(3, filler)
	when := sr.Meta.LastUpdated
	if when == "" {
		when = sr.AuthoredOn
	}
	if when != "" {
		orc.set(9, c.dtm("ServiceRequest.meta.lastUpdated", when))
	} else {
		orc.set(9, c.now())
	}
	orc.set(12, provider)
	segs = append(segs, orc)

	if msgType != OutboundORM && (priority != "" || start != "" || end != "") {
		tq1 := outNewSeg("TQ1")
		tq1.set(1, "1")
		tq1.set(7, start)
		tq1.set(8, end)
		tq1.set(9, priority)
		segs = append(segs, tq1)
	}

	obr := outNewSeg("OBR")
	obr.set(1, "1")
	obr.set(2, placer)
	obr.set(3, filler)
	obr.set(4, c.cwe(sr.Code, "http://loinc.org"))
	if msgType == OutboundORM {
		obr.set(5, priority)
		obr.set(27, outComps("", "", "", start, end, priority))
	}
	if len(specimens) > 0 && specimens[0].Collection != nil {
		col := specimens[0].Collection
		t := col.CollectedDateTime
		if t == "" && col.CollectedPeriod != nil {
			t = col.CollectedPeriod.Start
		}
		obr.set(7, c.dtm("Specimen.collection.collected", t))
	}
	obr.set(16, provider)
	for _, cat := range sr.Category {
		for _, cd := range cat.Coding {
			if cd.System == "http://terminology.hl7.org/CodeSystem/v2-0074" && cd.Code != "" {
				obr.text(24, cd.Code)
			}
		}
	}
	var reasons []string
	for i := range sr.ReasonCode {
		reasons = append(reasons, c.cwe(&sr.ReasonCode[i], ""))
	}
	obr.set(31, outReps(reasons))
	segs = append(segs, obr)
	segs = append(segs, c.nte(sr.Note)...)

	switch msgType {
	case OutboundOML:
		for i, sp := range specimens {
			segs = append(segs, c.spm(i+1, sp))
		}
	case OutboundOMI:
		segs = append(segs, c.ipc(&sr, placer))
	}
	return c.message(msgType+"^"+strings.Replace(msgType, "^", "_", 1), segs)
}

// outOrderControl chooses ORC-1 (HL7 table 0119) from the ServiceRequest's
// status now and before the change (nil when it is new):
//
//   - active, new or from draft: NW (new order); from on-hold: RL
//     (release hold); from active: XO (change order);
//   - on-hold, from active: HD (hold); from on-hold: XO;
//   - revoked or entered-in-error, from active or on-hold: CA (cancel),
//     or DC (discontinue) for a repeating order the filler has already
//     numbered (one that is under way);
//   - anything else (draft, completed, unknown, a withdrawn order never
//     sent, an intent other than an order) calls for no message.
func outOrderControl(sr, prev *outServiceRequest) (string, error) {
	switch sr.Intent {
	case "proposal", "plan", "directive", "filler-order":
		return "", outNothing("ServiceRequest intent %q is not an order to send to a filler", sr.Intent)
	}
	was := ""
	if prev != nil {
		was = prev.Status
	}
	sent := was == "active" || was == "on-hold"
	switch sr.Status {
	case "active":
		switch was {
		case "active":
			return "XO", nil
		case "on-hold":
			return "RL", nil
		}
		return "NW", nil
	case "on-hold":
		switch was {
		case "active":
			return "HD", nil
		case "on-hold":
			return "XO", nil
		}
		return "", outNothing("a ServiceRequest on hold that was never active is not sent")
	case "revoked", "entered-in-error":
		if !sent {
			return "", outNothing("ServiceRequest %s before it was ever sent", sr.Status)
		}
		if _, numbered := outTyped(sr.Identifier, "FILL"); numbered && sr.OccurrenceTiming != nil && sr.OccurrenceTiming.Repeat != nil {
			return "DC", nil
		}
		return "CA", nil
	}
	return "", outNothing("ServiceRequest status %q calls for no order message", sr.Status)
}

// outPlacerNumber returns the identifier ORC-2 and OBR-2 carry as the
// placer order number: the ServiceRequest's identifier of type PLAC
// (table 0203), else its first identifier, else its resource id in
// OutboundIDSystem. The filler echoes it in its results, which is how an
// ORU^R01 finds its order.
func outPlacerNumber(sr *outServiceRequest) outIdentifier {
	if id, ok := outPick(sr.Identifier, "PLAC"); ok {
		return id
	}
	return outIdentifier{System: OutboundIDSystem, Value: sr.ID}
}

// OutboundPlacerNumber returns the placer order number OrderMessage
// sends for a ServiceRequest (FHIR JSON) as an identifier system and
// value, so that the caller can record it on the ServiceRequest (with
// type PLAC) or match a filler's answer against it.
func OutboundPlacerNumber(serviceRequest []byte) (system, value string, err error) {
	var sr outServiceRequest
	ok, err := outDecode(serviceRequest, "ServiceRequest", &sr)
	if err != nil {
		return "", "", err
	}
	id := outPlacerNumber(&sr)
	if !ok || id.Value == "" {
		return "", "", concord.Errorf(concord.EINVALID, "convert: the ServiceRequest has neither an identifier nor an id")
	}
	return id.System, id.Value, nil
}

// outIsImaging reports whether a ServiceRequest is for imaging: its
// category is SNOMED CT Imaging (363679005) or a radiology section of
// HL7 table 0074, or its code is from DICOM or RadLex.
func outIsImaging(sr *outServiceRequest) bool {
	for _, cat := range sr.Category {
		for _, cd := range cat.Coding {
			switch cd.System {
			case "http://snomed.info/sct":
				if cd.Code == "363679005" || cd.Code == "363680008" {
					return true
				}
			case "http://terminology.hl7.org/CodeSystem/v2-0074":
				switch cd.Code {
				case "RAD", "RX", "CT", "NMR", "NMS", "RUS", "VUS", "OUS", "CUS", "XRC":
					return true
				}
			}
		}
	}
	if sr.Code != nil {
		for _, cd := range sr.Code.Coding {
			if cd.System == "http://dicom.nema.org/resources/ontology/DCM" || cd.System == "http://www.radlex.org" {
				return true
			}
		}
	}
	return false
}

// occurrence returns the start and end (DTM) of a ServiceRequest's
// occurrence[x]: a dateTime, a period, or a timing's first event or
// bounds.
func (c *outConv) occurrence(sr *outServiceRequest) (start, end string) {
	switch {
	case sr.OccurrenceDateTime != "":
		return c.dtm("ServiceRequest.occurrenceDateTime", sr.OccurrenceDateTime), ""
	case sr.OccurrencePeriod != nil:
		return c.dtm("ServiceRequest.occurrencePeriod.start", sr.OccurrencePeriod.Start),
			c.dtm("ServiceRequest.occurrencePeriod.end", sr.OccurrencePeriod.End)
	case sr.OccurrenceTiming != nil:
		t := sr.OccurrenceTiming
		if len(t.Event) > 0 {
			return c.dtm("ServiceRequest.occurrenceTiming.event", t.Event[0]), ""
		}
		if t.Repeat != nil && t.Repeat.BoundsPeriod != nil {
			return c.dtm("ServiceRequest.occurrenceTiming.repeat.boundsPeriod.start", t.Repeat.BoundsPeriod.Start),
				c.dtm("ServiceRequest.occurrenceTiming.repeat.boundsPeriod.end", t.Repeat.BoundsPeriod.End)
		}
	}
	return "", ""
}

// now writes the options' time as a DTM.
func (c *outConv) now() string {
	return c.opt.Time.Format("20060102150405-0700")
}

// ipc writes the imaging procedure control segment OMI^O23 requires:
// the accession number (IPC-1: the identifier of type ACSN, else the
// placer number), the requested procedure ID (IPC-2: the placer number),
// the study instance UID (IPC-3: an identifier with system urn:dicom:uid,
// else one derived from the placer number, see OutboundStudyUID), the
// scheduled procedure step ID (IPC-4: 1, one step per request) and the
// modality (IPC-5) when the code is a DICOM modality.
func (c *outConv) ipc(sr *outServiceRequest, placer string) *outSeg {
	s := outNewSeg("IPC")
	if id, ok := outTyped(sr.Identifier, "ACSN"); ok {
		s.set(1, c.ei(id))
	} else {
		s.set(1, placer)
	}
	s.set(2, placer)
	uid := ""
	for _, id := range sr.Identifier {
		if id.System == "urn:dicom:uid" && id.Value != "" {
			uid = strings.TrimPrefix(id.Value, "urn:oid:")
		}
	}
	if uid == "" {
		p := outPlacerNumber(sr)
		uid = OutboundStudyUID(p.System, p.Value)
	}
	s.set(3, outComps(outEsc(uid), "", "", ""))
	s.set(4, "1")
	if sr.Code != nil {
		for _, cd := range sr.Code.Coding {
			if cd.System == "http://dicom.nema.org/resources/ontology/DCM" && cd.Code != "" {
				s.set(5, c.cweCode(&cd))
				break
			}
		}
	}
	return s
}

// OutboundStudyUID derives a DICOM study instance UID from a placer order
// number: "2.25." followed by the decimal value of the first 128 bits of
// the SHA-256 of "system|value" (a UUID-derived UID, DICOM PS3.5 B.2), so
// that sending the same order again gives the same study.
func OutboundStudyUID(system, value string) string {
	sum := sha256.Sum256([]byte(system + "|" + value))
	return "2.25." + new(big.Int).SetBytes(sum[:16]).String()
}
