package convert

import (
	"strings"

	"github.com/concord-health/concord"
)

// OutboundPatient is a changed Patient to announce to the systems that
// keep demographics, each resource as FHIR R4 JSON. Only Patient is
// required.
type OutboundPatient struct {
	// Patient is the Patient as it is now.
	Patient []byte
	// Previous is the version before this change, nil when unknown or
	// new: a merge link Previous already had is not announced again.
	Previous []byte
	// Linked are the Patients the merge links point to (the survivor of
	// a replaced-by link, the retired records of replaces links), matched
	// to the links by "Patient/<id>". A link whose Patient is not given
	// is written from the link's identifier, or its reference's id.
	Linked [][]byte
	// Encounter gives PV1; without it PV1 is "PV1|1|N" (not applicable).
	Encounter []byte
}

// PatientMessage writes the message a Patient's change calls for:
//
//   - ADT^A40 (merge patient, patient identifier list) when the change
//     adds a merge link: for a Patient linked replaced-by another, PID is
//     the survivor and MRG this Patient; for a Patient that replaces
//     others, one PID (this Patient) and MRG (the retired record) pair
//     per new link;
//   - ADT^A08 (update patient information) for any other change.
//
// EVN-2 is the options' time and PID comes from the Patient as OrderMessage
// writes it (see outConv.pid). In an A08, a PID field the Previous
// version had and this one lacks is sent as "" so the receiver erases it.
func PatientMessage(in OutboundPatient, opt OutboundOptions) ([]byte, error) {
	c, err := outNewConv(opt)
	if err != nil {
		return nil, err
	}
	var p, prev outPatient
	ok, err := outDecode(in.Patient, "Patient", &p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, concord.Errorf(concord.EINVALID, "convert: a patient message needs a Patient")
	}
	hasPrev, err := outDecode(in.Previous, "Patient", &prev)
	if err != nil {
		return nil, err
	}
	linked := map[string]*outPatient{}
	for _, data := range in.Linked {
		lp := new(outPatient)
		ok, err := outDecode(data, "Patient", lp)
		if err != nil {
			return nil, err
		}
		if ok && lp.ID != "" {
			linked["Patient/"+lp.ID] = lp
		}
	}
	var enc outEncounter
	hasEnc, err := outDecode(in.Encounter, "Encounter", &enc)
	if err != nil {
		return nil, err
	}
	pv1 := func() *outSeg {
		if hasEnc {
			return c.pv1(&enc, "")
		}
		return c.pv1(nil, "N")
	}

	// The merge links this change adds.
	had := map[string]bool{}
	for _, l := range prev.Link {
		had[l.Type+" "+outLinkKey(l.Other)] = true
	}
	var survivor *outPatient
	var retired []*outPatient
	for _, l := range p.Link {
		if had[l.Type+" "+outLinkKey(l.Other)] {
			continue
		}
		switch l.Type {
		case "replaced-by":
			if survivor == nil {
				survivor = outLinkedPatient(linked, l.Other)
			}
		case "replaces":
			retired = append(retired, outLinkedPatient(linked, l.Other))
		}
	}

	evn := func(code string) *outSeg {
		s := outNewSeg("EVN")
		if !c.versionAtLeast("2.7") {
			s.set(1, code)
		}
		s.set(2, c.now())
		return s
	}
	switch {
	case survivor != nil:
		segs := []*outSeg{evn("A40"), c.pid(survivor), c.mrg(&p)}
		return c.message("ADT^A40^ADT_A39", segs)
	case len(retired) > 0:
		segs := []*outSeg{evn("A40")}
		for _, r := range retired {
			segs = append(segs, c.pid(&p), c.mrg(r))
		}
		return c.message("ADT^A40^ADT_A39", segs)
	}
	pid := c.pid(&p)
	if hasPrev {
		// A08 replaces what the receiver has field by field, and an empty
		// field means "no change": a value the previous version had and
		// this one lacks is sent as "" (delete), so it is erased there too.
		pc := &outConv{opt: c.opt, legacy: c.legacy}
		old := pc.pid(&prev)
		for n := 1; n <= len(old.fields); n++ {
			if old.field(n) != "" && pid.field(n) == "" {
				pid.set(n, `""`)
			}
		}
	}
	return c.message("ADT^A08^ADT_A01", []*outSeg{evn("A08"), pid, pv1()})
}

// mrg writes the retired record of a merge as MRG: its identifiers
// (MRG-1) and its first name (MRG-7).
func (c *outConv) mrg(p *outPatient) *outSeg {
	pid := c.pid(p)
	s := outNewSeg("MRG")
	s.set(1, pid.field(3))
	s.set(7, strings.SplitN(pid.field(5), "~", 2)[0])
	return s
}

// outLinkKey names a link's target for comparing links across versions.
func outLinkKey(r outReference) string {
	if r.Reference != "" {
		return r.Reference
	}
	if r.Identifier != nil {
		return r.Identifier.System + "|" + r.Identifier.Value
	}
	return r.Display
}

// outLinkedPatient returns the Patient a link points to: the one given,
// else one made from the link's identifier, else from its reference's id
// (written with OutboundIDSystem).
func outLinkedPatient(linked map[string]*outPatient, r outReference) *outPatient {
	if lp, ok := linked[r.Reference]; ok {
		return lp
	}
	lp := &outPatient{}
	if r.Identifier != nil && r.Identifier.Value != "" {
		lp.Identifier = []outIdentifier{*r.Identifier}
	} else if id, ok := strings.CutPrefix(r.Reference, "Patient/"); ok && id != "" && !strings.Contains(id, "/") {
		lp.ID = id
	}
	return lp
}
