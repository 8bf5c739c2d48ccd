package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/convert"
)

// changeControlID is MSH-10 of the message a change log entry makes for a
// destination: the entry's seq and six hex digits naming the channel and
// destination, at most 20 characters (ST in v2.5) for any store smaller
// than 10^13 versions. The same change gives the same ID, so a receiver
// that sees a message twice can tell.
func changeControlID(channel, dest string, seq int64) string {
	sum := sha256.Sum256([]byte(channel + "\x00" + dest))
	return strconv.FormatInt(seq, 10) + "-" + hex.EncodeToString(sum[:3])
}

// refsOf are the references of a resource that the outbound converter
// needs, read from its JSON.
type refsOf struct {
	Subject   *jsonRef  `json:"subject"`
	Encounter *jsonRef  `json:"encounter"`
	Requester *jsonRef  `json:"requester"`
	Specimen  []jsonRef `json:"specimen"`
	BasedOn   []jsonRef `json:"basedOn"`
	Result    []jsonRef `json:"result"`
	Link      []struct {
		Other jsonRef `json:"other"`
	} `json:"link"`
}

type jsonRef struct {
	Reference string `json:"reference"`
}

// ref reads a relative reference ("Patient/1", or
// "Patient/1/_history/2", read as the current version) of the wanted
// type; an absolute, contained or other reference gives false.
func (r *jsonRef) ref(want string) (concord.Ref, bool) {
	if r == nil {
		return concord.Ref{}, false
	}
	parts := strings.Split(r.Reference, "/")
	if (len(parts) != 2 && !(len(parts) == 4 && parts[2] == "_history")) || parts[0] != want || parts[1] == "" {
		return concord.Ref{}, false
	}
	return concord.Ref{Type: parts[0], ID: parts[1]}, true
}

// related reads the current versions of the resources refs point to,
// keyed by "Type/id"; those not found (or deleted) are left out.
func (e *Engine) related(ctx context.Context, refs []concord.Ref) (map[string][]byte, error) {
	out := map[string][]byte{}
	if len(refs) == 0 {
		return out, nil
	}
	rs, err := e.opt.Store.Resources(ctx, refs)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		out[r.Type+"/"+r.ID] = r.Content
	}
	return out, nil
}

// previous returns the version of a resource before r, or nil when r is
// its first version or the one before was a deletion.
func (e *Engine) previous(ctx context.Context, r *concord.Resource) ([]byte, error) {
	if r.Version <= 1 {
		return nil, nil
	}
	p, err := e.opt.Store.ResourceVersion(ctx, r.Type, r.ID, r.Version-1)
	if concord.ErrorCode(err) == concord.ENOTFOUND {
		return nil, nil
	}
	if err != nil || p.Deleted {
		return nil, err
	}
	return p.Content, nil
}

// changeInput is what converting one resource version needs: the
// version, the one before it, and the resources it refers to.
type changeInput struct {
	r        *concord.Resource
	previous []byte
	rel      map[string][]byte
	refs     refsOf
}

func (in *changeInput) get(r *jsonRef, typ string) []byte {
	if ref, ok := r.ref(typ); ok {
		return in.rel[ref.Type+"/"+ref.ID]
	}
	return nil
}

func (in *changeInput) all(rs []jsonRef, typ string) [][]byte {
	var out [][]byte
	for i := range rs {
		if b := in.get(&rs[i], typ); b != nil {
			out = append(out, b)
		}
	}
	return out
}

// resolve reads what converting r needs from the store: for an order its
// Patient, Encounter, Specimens, requesting Practitioner and previous
// version; for a report those and the ServiceRequest it is based on and
// its Observations; for a Patient its previous version and the Patients
// its links point to. Related resources are read as they are now; the
// changed resource is the version the log holds, so a burst of edits is
// sent as it happened.
func (e *Engine) resolve(ctx context.Context, r *concord.Resource) (*changeInput, error) {
	in := &changeInput{r: r}
	if err := json.Unmarshal(r.Content, &in.refs); err != nil {
		return nil, concord.Errorf(concord.EINVALID, "%s/%s version %d: %v", r.Type, r.ID, r.Version, err)
	}
	var want []concord.Ref
	add := func(ref *jsonRef, typ string) {
		if x, ok := ref.ref(typ); ok {
			want = append(want, x)
		}
	}
	refs := &in.refs
	add(refs.Subject, "Patient")
	add(refs.Encounter, "Encounter")
	add(refs.Requester, "Practitioner")
	for i := range refs.Specimen {
		add(&refs.Specimen[i], "Specimen")
	}
	switch r.Type {
	case "ServiceRequest", "Patient":
		p, err := e.previous(ctx, r)
		if err != nil {
			return nil, err
		}
		in.previous = p
		for i := range refs.Link {
			add(&refs.Link[i].Other, "Patient")
		}
	case "DiagnosticReport":
		for i := range refs.BasedOn {
			add(&refs.BasedOn[i], "ServiceRequest")
		}
		for i := range refs.Result {
			add(&refs.Result[i], "Observation")
		}
	}
	rel, err := e.related(ctx, want)
	if err != nil {
		return nil, err
	}
	in.rel = rel
	if r.Type == "DiagnosticReport" {
		// The requester is the order's.
		for i := range refs.BasedOn {
			sr := in.get(&refs.BasedOn[i], "ServiceRequest")
			if sr == nil {
				continue
			}
			var srRefs refsOf
			if json.Unmarshal(sr, &srRefs) == nil {
				if x, ok := srRefs.Requester.ref("Practitioner"); ok {
					more, err := e.related(ctx, []concord.Ref{x})
					if err != nil {
						return nil, err
					}
					for k, v := range more {
						in.rel[k] = v
					}
					refs.Requester = srRefs.Requester
				}
			}
			break
		}
	}
	return in, nil
}

// convertChange writes the message a resource version calls for, for one
// destination: ORM/OML/OMI for a ServiceRequest, ORU^R01 for a
// DiagnosticReport, ADT^A08 or ADT^A40 for a Patient. An error wrapping
// convert.ErrNoOutboundMessage means the change calls for none.
func convertChange(in *changeInput, opt convert.OutboundOptions) ([]byte, error) {
	refs := &in.refs
	switch in.r.Type {
	case "ServiceRequest":
		return convert.OrderMessage(convert.OutboundOrder{
			ServiceRequest: in.r.Content, Previous: in.previous,
			Patient: in.get(refs.Subject, "Patient"), Encounter: in.get(refs.Encounter, "Encounter"),
			Specimens: in.all(refs.Specimen, "Specimen"), Requester: in.get(refs.Requester, "Practitioner"),
		}, opt)
	case "DiagnosticReport":
		var sr []byte
		for i := range refs.BasedOn {
			if sr = in.get(&refs.BasedOn[i], "ServiceRequest"); sr != nil {
				break
			}
		}
		return convert.ResultMessage(convert.OutboundResult{
			DiagnosticReport: in.r.Content, Observations: in.all(refs.Result, "Observation"),
			Patient: in.get(refs.Subject, "Patient"), Encounter: in.get(refs.Encounter, "Encounter"),
			ServiceRequest: sr, Requester: in.get(refs.Requester, "Practitioner"),
			Specimens: in.all(refs.Specimen, "Specimen"),
		}, opt)
	case "Patient":
		var linked [][]byte
		for i := range refs.Link {
			if b := in.get(&refs.Link[i].Other, "Patient"); b != nil {
				linked = append(linked, b)
			}
		}
		return convert.PatientMessage(convert.OutboundPatient{Patient: in.r.Content, Previous: in.previous, Linked: linked}, opt)
	}
	return nil, concord.Errorf(concord.EUNSUPPORTED, "a changes source converts ServiceRequest, DiagnosticReport and Patient, not %s", in.r.Type)
}

// provenanceOf is what authors reads of a Provenance.
type provenanceOf struct {
	Agent []struct {
		Type *struct {
			Coding []struct{ System, Code string } `json:"coding"`
		} `json:"type"`
		Who *struct {
			Display    string `json:"display"`
			Identifier *struct {
				Value string `json:"value"`
			} `json:"identifier"`
		} `json:"who"`
	} `json:"agent"`
}

// authors returns who a resource version came from: the authors named
// (who.display or who.identifier.value; an agent without a type counts
// as the author) by the Provenances that target the resource and were
// written in the same transaction as the version (the same
// lastUpdated), as the HL7 v2 → FHIR conversion writes them (author =
// the sender, MSH-3^MSH-4).
func (e *Engine) authors(ctx context.Context, r *concord.Resource) ([]string, error) {
	refs, err := e.opt.Store.ReferencedBy(ctx, "Provenance", "target", []concord.Ref{{Type: r.Type, ID: r.ID}})
	if err != nil || len(refs) == 0 {
		return nil, err
	}
	provs, err := e.opt.Store.Resources(ctx, refs)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range provs {
		if !p.LastUpdated.Equal(r.LastUpdated) {
			continue // another change's record
		}
		var prov provenanceOf
		if json.Unmarshal(p.Content, &prov) != nil {
			continue
		}
		for _, a := range prov.Agent {
			author := a.Type == nil
			if a.Type != nil {
				for _, c := range a.Type.Coding {
					author = author || c.Code == "author"
				}
			}
			if !author || a.Who == nil {
				continue
			}
			if a.Who.Display != "" {
				out = append(out, a.Who.Display)
			}
			if a.Who.Identifier != nil && a.Who.Identifier.Value != "" {
				out = append(out, a.Who.Identifier.Value)
			}
		}
	}
	return out, nil
}
