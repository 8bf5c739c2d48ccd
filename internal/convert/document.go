package convert

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

// MDM (medical document management) T01–T11: TXA makes a
// DocumentReference identified by the unique document number (TXA-12);
// the OBX after it are the document's content. The triggers that carry
// content (T02, T04, T06, T08, T10) write the whole DocumentReference,
// a new version of the same resource when the document number is known
// (an edit, T08). The notifications without content (T01, T05, T07,
// T09) create the DocumentReference only when it is unknown, so that
// they never wipe the content stored before; a status change (T03) and
// a cancellation (T11) without content patch the stored document's
// status (T11: entered-in-error), and fail when the document is not
// known.
func init() {
	for _, t := range []string{"T01", "T02", "T03", "T04", "T05", "T06", "T07", "T08", "T09", "T10", "T11"} {
		RegisterMessage("MDM^"+t, documentMessage)
	}
	RegisterSegment("TXA", txaSegment)
}

var documentOverrides = ownOverrides(map[string]SegmentFunc{"ORC": documentORC, "OBX": documentOBX, "NTE": documentNTE})

// documentORC keeps the order's numbers for the DocumentReference
// (context.related) and gives the ORC to the global converter: the IG
// maps MDM's COMMON_ORDER group (ORC, TQ1, OBR, NTE) to a ServiceRequest.
func documentORC(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	if err := ownORC(ctx, c, seg); err != nil {
		return err
	}
	return delegate(ctx, c, seg)
}

// documentNTE gives the NTE of the order group (before TXA) to the global
// converter; the NTE about the document's OBX are skipped.
func documentNTE(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	if c.Group[documentKey] != nil {
		return nil
	}
	return delegate(ctx, c, seg)
}

const documentKey = "own.document"

// document is the state of an MDM conversion: the DocumentReference and
// its content as the OBX give it.
type document struct {
	e        *Entry
	text     []string         // TX, FT, ST, CE… lines, in order
	attached []map[string]any // ED and RP attachments
	title    string
	status   string // DocumentReference.status, as TXA says
	docState string // docStatus, as TXA-17 says
}

func documentMessage(ctx context.Context, c *Context) error {
	// The COMMON_ORDER groups (ORC, TQ1, OBR, NTE) are orders, as in ORM.
	c.lab().mode = labOrders
	if err := c.WalkSegments(ctx, documentOverrides); err != nil {
		return err
	}
	if err := c.closeGroup(ctx); err != nil {
		return err
	}
	if c.Patient == nil {
		return concord.Errorf(concord.EINVALID, "PID: the message has no PID segment")
	}
	d, _ := c.Group[documentKey].(*document)
	if d == nil {
		return concord.Errorf(concord.EINVALID, "TXA: the message has no TXA segment")
	}
	var content []any
	if len(d.text) > 0 {
		att := map[string]any{"contentType": "text/plain; charset=utf-8",
			"data": base64.StdEncoding.EncodeToString([]byte(strings.Join(d.text, "\n")))}
		setv(att, "title", d.title)
		content = append(content, map[string]any{"attachment": att})
	}
	for _, a := range d.attached {
		content = append(content, map[string]any{"attachment": a})
	}
	r := d.e.Resource
	if len(content) > 0 {
		r["content"] = content
		d.e.IfNoneExist = ""
		return nil
	}
	switch c.Trigger {
	case "T03", "T11":
		// Only the status changes: patch the stored document.
		ops := []any{map[string]any{"op": "add", "path": "/status", "value": d.status}}
		if d.docState != "" {
			ops = append(ops, map[string]any{"op": "add", "path": "/docStatus", "value": d.docState})
		}
		doc, err := json.Marshal(ops)
		if err != nil {
			return concord.WrapError(concord.EINTERNAL, err, "encoding the patch")
		}
		d.e.IfNoneExist = ""
		d.e.Method = "PATCH"
		d.e.Resource = map[string]any{"resourceType": "Binary", "contentType": "application/json-patch+json",
			"data": base64.StdEncoding.EncodeToString(doc)}
		return nil
	}
	// A notification: txaSegment made it a conditional create.
	return nil
}

// documentStatus maps TXA-19 (document availability status, table 0273)
// and the trigger to DocumentReference.status: T11 (cancel) and CA
// (cancelled) entered-in-error, OB (obsolete) superseded, else current.
func documentStatus(trigger, avail string) string {
	if trigger == "T11" || avail == "CA" {
		return "entered-in-error"
	}
	if avail == "OB" {
		return "superseded"
	}
	return "current"
}

// completionStatus maps TXA-17 (document completion status, table 0271)
// to docStatus: authenticated and legally authenticated are final
// (amended for an edit, T07/T08), the earlier states preliminary.
func completionStatus(trigger, code string) string {
	switch code {
	case "AU", "LA":
		if trigger == "T07" || trigger == "T08" {
			return "amended"
		}
		return "final"
	case "DI", "DO", "IP", "IN", "PA":
		return "preliminary"
	}
	return ""
}

// txaSegment maps TXA to a DocumentReference (TXA[DocumentReference]):
// identified by the unique document number (TXA-12, also the master
// identifier), else derived from the patient, the type and the
// origination time; type (2, table 0270), activity time (4) as the
// context period, primary activity provider (5) and originator (9) as
// authors, date (6 origination, else 4), parent document (13) as
// relatesTo (appends for an addendum T05/T06, else replaces), placer and
// filler order numbers (14, 15, else ORC) as related, file name (16) as
// the attachment title, completion status (17), confidentiality (18),
// availability (19), authenticator (22).
func txaSegment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	if err := c.needPatient(seg); err != nil {
		return err
	}
	var e *Entry
	id := c.EIIdentifier(seg.Field(12))
	if id != nil {
		e, _ = c.Upsert("DocumentReference", id)
	} else {
		e, _ = c.UpsertDerived("DocumentReference", compText(seg.Field(2), 1), c.DateTime(seg.Field(6)), c.DateTime(seg.Field(4)))
	}
	r := e.Resource
	d := &document{e: e, title: Text(seg.Field(16)),
		status:   documentStatus(c.Trigger, compText(seg.Field(19), 1)),
		docState: completionStatus(c.Trigger, compText(seg.Field(17), 1))}
	c.Group[documentKey] = d
	if id != nil {
		r["masterIdentifier"] = map[string]any{"system": id["system"], "value": id["value"]}
	}
	r["status"] = d.status
	setv(r, "docStatus", d.docState)
	setv(r, "type", c.CodeableConcept(seg.Field(2), "0270"))
	r["subject"] = c.Patient.Ref()
	date := c.Instant(seg.Field(6))
	if date == "" {
		date = c.Instant(seg.Field(4))
	}
	setv(r, "date", date)
	var authors []any
	seen := map[string]bool{}
	for _, f := range []int{5, 9} {
		for _, rep := range repsOf(seg.Field(f)) {
			if who := c.Practitioner(rep); who != nil {
				ref, _ := who["reference"].(string)
				disp, _ := who["display"].(string)
				k := ref + "|" + disp
				if !seen[k] {
					seen[k] = true
					authors = append(authors, who)
				}
			}
		}
	}
	setv(r, "author", authors)
	setv(r, "authenticator", c.Practitioner(seg.Field(22).Rep(1)))
	if conf := compText(seg.Field(18), 1); conf == "V" || conf == "R" || conf == "U" {
		r["securityLabel"] = []any{oneCoding("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", conf, "")}
	}
	if parent := c.EIIdentifier(seg.Field(13)); parent != nil {
		code := "replaces"
		if c.Trigger == "T05" || c.Trigger == "T06" {
			code = "appends"
		}
		r["relatesTo"] = []any{map[string]any{"code": code,
			"target": map[string]any{"type": "DocumentReference", "identifier": parent}}}
	}
	cx := map[string]any{}
	if c.Encounter != nil {
		cx["encounter"] = []any{c.Encounter.Ref()}
	}
	per := map[string]any{}
	setv(per, "start", c.DateTime(seg.Field(4)))
	setv(cx, "period", per)
	var related []any
	placer, filler := orderIdentifier(seg.Field(14), "PLAC", placerSystem), orderIdentifier(seg.Field(15), "FILL", fillerSystem)
	if o := c.currentRxOrder(); o != nil {
		if placer == nil {
			placer = o.placer
		}
		if filler == nil {
			filler = o.filler
		}
	}
	for _, id := range []map[string]any{placer, filler} {
		if id != nil {
			related = append(related, map[string]any{"type": "ServiceRequest", "identifier": id})
		}
	}
	setv(cx, "related", related)
	setv(r, "context", cx)
	// Until OBX give content (documentMessage), the document is what TXA
	// tells, written only when unknown: a TXA in a notification, or in
	// a message of another type, never wipes stored content.
	title := d.title
	if title == "" {
		_, v := entryKey(e)
		title = "document " + v
	}
	r["content"] = []any{map[string]any{"attachment": map[string]any{"title": title}}}
	e.IfNoneExist = e.Search
	return nil
}

// documentOBX adds an OBX after the TXA to the document's content
// (OBX[DocumentReference]): text types (TX, FT, ST, and the text of
// coded and other values) become lines of one text/plain attachment; ED
// (type^subtype in ED-2/3, Base64 data in ED-5) and RP (a URL in RP-1)
// become attachments of their own. An OBX before the TXA is skipped.
func documentOBX(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	d, _ := c.Group[documentKey].(*document)
	if d == nil {
		return nil
	}
	switch strings.ToUpper(Text(seg.Field(2))) {
	case "ED":
		for _, rep := range repsOf(seg.Field(5)) {
			data := compText(rep, 5)
			if data == "" {
				continue
			}
			if strings.EqualFold(compText(rep, 4), "Base64") {
				if _, err := base64.StdEncoding.DecodeString(data); err != nil {
					return concord.Errorf(concord.EINVALID, "%s: the encapsulated data is not Base64", c.Loc(seg, 5))
				}
			} else {
				data = base64.StdEncoding.EncodeToString([]byte(data))
			}
			ct := "application/octet-stream"
			if typ, sub := compText(rep, 2), compText(rep, 3); typ != "" && sub != "" {
				ct = strings.ToLower(typ + "/" + sub)
			}
			d.attached = append(d.attached, map[string]any{"contentType": ct, "data": data})
		}
	case "RP":
		for _, rep := range repsOf(seg.Field(5)) {
			if u := compText(rep, 1); strings.Contains(u, "://") && !strings.ContainsAny(u, " \t") {
				d.attached = append(d.attached, map[string]any{"url": u})
			}
		}
	case "HD", "":
		// A reference to a study or nothing: no content.
	default:
		coded := false
		switch strings.ToUpper(Text(seg.Field(2))) {
		case "CE", "CWE", "CNE":
			coded = true
		}
		for _, rep := range repsOf(seg.Field(5)) {
			t := Text(rep)
			if coded {
				t = hdText(compText(rep, 2), compText(rep, 1))
			}
			if t != "" {
				d.text = append(d.text, t)
			}
		}
	}
	return nil
}
