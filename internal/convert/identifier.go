package convert

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	"github.com/concord-health/concord/hl7v2"
	"github.com/concord-health/concord/internal/terminology"
)

// The URIs Concord makes up for HL7 v2 values that name no standard
// system. Each is deterministic, so the same value always lands on the same
// system, and so on the same resource.
const (
	// authorityBase + namespace: the system of an identifier whose
	// assigning authority has a namespace ID but no universal ID.
	authorityBase = "urn:concord:v2:authority:"
	// senderBase + sender + ":" + what: identifier systems local to one
	// sender (identifiers with no assigning authority).
	senderBase = "urn:concord:v2:sender:"
	// localCodeBase + sender + ":" + name: a sender's local code system
	// (the form internal/terminology's LocalSystem gives, so that
	// ConceptMaps written for it apply).
	localCodeBase = "urn:concord:local:"
	// derivedSystem: identifiers Concord derives for resources that have
	// no business identifier in HL7 v2 (see DerivedIdentifier).
	derivedSystem = "urn:concord:v2:derived"
	// messageSystem: the identifier of a stored raw message.
	messageSystem = "urn:concord:message"
)

// nameUUID returns a name-based UUID (version 5 layout, SHA-1) for key, so
// that the same key always gives the same urn:uuid fullUrl.
func nameUUID(key string) string {
	h := sha1.Sum([]byte("concord-v2-fhir|" + key))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// uriPart escapes a value for use inside one of Concord's URNs, as
// internal/terminology escapes the parts of its local system URIs.
func uriPart(s string) string { return terminology.URIPart(s) }

// isOID reports whether s is an ISO object identifier (digits and dots).
func isOID(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return true
}

// AuthoritySystem returns the Identifier.system for an assigning
// authority (HD): urn:oid:<id> for an OID universal ID (whatever HD-3
// says), urn:uuid:<id> for a UUID, the ID itself for a URI; else
// urn:concord:v2:authority:<namespace>; "" when the HD is empty.
func AuthoritySystem(h hl7v2.HD) string {
	uid := strings.TrimSpace(h.UniversalID)
	switch {
	case isOID(uid):
		return "urn:oid:" + uid
	case strings.ContainsAny(uid, " \t|"):
		// not usable as a URI: fall back to the namespace below
	case strings.EqualFold(h.UniversalIDType, "UUID") && uid != "":
		return "urn:uuid:" + strings.ToLower(uid)
	case strings.EqualFold(h.UniversalIDType, "URI") || strings.EqualFold(h.UniversalIDType, "URL"):
		if u, err := url.Parse(uid); err == nil && u.Scheme != "" {
			return uid
		}
	}
	if ns := strings.TrimSpace(h.Namespace); ns != "" {
		return authorityBase + uriPart(ns)
	}
	if uid != "" {
		return authorityBase + uriPart(uid)
	}
	return ""
}

// IdentifierSystem returns the system of a CX: its assigning authority's
// (CX-4), else its assigning facility's (CX-6), else one local to the
// sender and the identifier type (CX-5):
// urn:concord:v2:sender:<sender>:<type or "id">.
func (c *Context) IdentifierSystem(cx hl7v2.CX) string {
	if s := AuthoritySystem(cx.AssigningAuthority); s != "" {
		return s
	}
	if s := AuthoritySystem(cx.AssigningFacility); s != "" {
		return s
	}
	t := cx.IdentifierType
	if t == "" {
		t = "id"
	}
	return senderBase + uriPart(c.sender) + ":" + uriPart(t)
}

// DerivedIdentifier returns the identifier Concord gives a resource that
// has no business identifier in HL7 v2: system urn:concord:v2:derived,
// value the first 32 hex digits of the SHA-256 of the resource type and
// parts joined by "|". Callers pass the patient's identifier system and
// value first, then what makes the resource distinct for that patient
// (the allergen's code, the diagnosis code and visit, …), never a set ID,
// which changes from one message to the next.
func DerivedIdentifier(typ string, parts ...string) map[string]any {
	h := sha256.Sum256([]byte(typ + "|" + strings.Join(parts, "|")))
	return map[string]any{"system": derivedSystem, "value": hex.EncodeToString(h[:16])}
}

// PatientKey returns the patient's system and value (the identifier its
// entry is searched by), "" when there is no patient yet.
func (c *Context) PatientKey() (string, string) {
	if c.Patient == nil {
		return "", ""
	}
	return entryKey(c.Patient)
}

// entryKey returns the first identifier of an entry.
func entryKey(e *Entry) (string, string) {
	ids, _ := e.Resource["identifier"].([]any)
	if len(ids) == 0 {
		return "", ""
	}
	id, _ := ids[0].(map[string]any)
	s, _ := id["system"].(string)
	v, _ := id["value"].(string)
	return s, v
}

// UpsertDerived adds (or returns) the entry of a resource without a
// business identifier, keyed by the current patient and parts.
func (c *Context) UpsertDerived(typ string, parts ...string) (*Entry, bool) {
	ps, pv := c.PatientKey()
	return c.Upsert(typ, DerivedIdentifier(typ, append([]string{ps, pv}, parts...)...))
}
