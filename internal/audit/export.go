// Package audit turns the audit trail into FHIR R4 AuditEvent resources.
// The chain itself (sealing, verification) is in package concord.
package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/concord-health/concord"
)

// Code systems used in exported AuditEvents.
const (
	sysEventType   = "http://terminology.hl7.org/CodeSystem/audit-event-type"
	sysDICOM       = "http://dicom.nema.org/resources/ontology/DCM"
	sysRESTful     = "http://hl7.org/fhir/restful-interaction"
	sysSourceType  = "http://terminology.hl7.org/CodeSystem/security-source-type"
	sysObjectRole  = "http://terminology.hl7.org/CodeSystem/object-role"
	chainExtension = "https://concord-health.github.io/fhir/StructureDefinition/audit-chain"
)

// Coding is a FHIR Coding.
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// ToAuditEvent maps one audit record to a FHIR R4 AuditEvent, as a JSON
// object. The chain position and hashes travel in an extension, so an
// exported trail can be verified outside Concord.
func ToAuditEvent(r *concord.AuditRecord) map[string]any {
	typ, subtype, action := classify(r.Action)
	agent := map[string]any{
		"who":       map[string]any{"identifier": map[string]any{"system": "urn:concord:actor", "value": r.Actor}},
		"requestor": true,
	}
	if r.Role != "" {
		agent["role"] = []any{map[string]any{"text": r.Role}}
	}
	if r.Address != "" {
		netType := "2" // IP address
		if r.Address == "local" {
			netType = "1" // machine name
		}
		agent["network"] = map[string]any{"address": r.Address, "type": netType}
	}
	var entities []any
	if r.Object != "" {
		what := map[string]any{"display": r.Object}
		if looksLikeReference(r.Object) {
			what = map[string]any{"reference": r.Object}
		}
		entities = append(entities, map[string]any{"what": what})
	}
	if r.Patient != "" {
		entities = append(entities, map[string]any{
			"what": map[string]any{"reference": "Patient/" + r.Patient},
			"role": Coding{System: sysObjectRole, Code: "1", Display: "Patient"},
		})
	}
	ev := map[string]any{
		"resourceType": "AuditEvent",
		"id":           "audit-" + strconv.FormatInt(r.Seq, 10),
		"extension": []any{map[string]any{
			"url": chainExtension,
			"extension": []any{
				map[string]any{"url": "seq", "valueString": strconv.FormatInt(r.Seq, 10)},
				map[string]any{"url": "prevHash", "valueString": r.PrevHash},
				map[string]any{"url": "hash", "valueString": r.Hash},
				map[string]any{"url": "requestId", "valueString": r.RequestID},
			},
		}},
		"type":     typ,
		"subtype":  []any{subtype},
		"action":   action,
		"recorded": r.Time.UTC().Format("2006-01-02T15:04:05.000000Z07:00"),
		"outcome":  strconv.Itoa(int(r.Outcome)),
		"agent":    []any{agent},
		"source": map[string]any{
			"site":     r.Node,
			"observer": map[string]any{"display": "Concord node " + r.Node},
			"type":     []any{Coding{System: sysSourceType, Code: "4", Display: "Application Server"}},
		},
	}
	if r.Detail != "" {
		ev["outcomeDesc"] = r.Detail
	}
	if len(entities) > 0 {
		ev["entity"] = entities
	}
	return ev
}

// classify maps an audit action to AuditEvent type, subtype and action.
func classify(action string) (Coding, Coding, string) {
	rest := Coding{System: sysEventType, Code: "rest", Display: "RESTful Operation"}
	switch action {
	case concord.AuditCreate:
		return rest, Coding{System: sysRESTful, Code: "create"}, "C"
	case concord.AuditRead:
		return rest, Coding{System: sysRESTful, Code: "read"}, "R"
	case concord.AuditUpdate:
		return rest, Coding{System: sysRESTful, Code: "update"}, "U"
	case concord.AuditDelete:
		return rest, Coding{System: sysRESTful, Code: "delete"}, "D"
	case concord.AuditSearch:
		return rest, Coding{System: sysRESTful, Code: "search-type"}, "E"
	case concord.AuditLogin:
		return Coding{System: sysDICOM, Code: "110114", Display: "User Authentication"},
			Coding{System: sysDICOM, Code: "110122", Display: "Login"}, "E"
	case concord.AuditIssue, concord.AuditRevoke:
		return Coding{System: sysDICOM, Code: "110113", Display: "Security Alert"},
			Coding{System: sysDICOM, Code: "110137", Display: "User Security Attributes Changed"}, "E"
	}
	return rest, Coding{System: sysRESTful, Code: "operation"}, "E"
}

// looksLikeReference reports whether s is a relative FHIR reference such
// as Patient/123.
func looksLikeReference(s string) bool {
	typ, id, ok := strings.Cut(s, "/")
	return ok && typ != "" && typ[0] >= 'A' && typ[0] <= 'Z' && id != "" && !strings.Contains(id, "/")
}

// ExportNDJSON writes the records matching f as AuditEvent NDJSON, one
// resource a line, and returns how many it wrote.
func ExportNDJSON(ctx context.Context, s concord.Store, f concord.AuditFilter, w io.Writer) (int, error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	n := 0
	err := s.AuditRecords(ctx, f, func(r *concord.AuditRecord) error {
		n++
		return enc.Encode(ToAuditEvent(r))
	})
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// ParseSince reads a --since value: an RFC 3339 time, a date
// (2026-01-31), or a duration back from now (24h, 7d).
func ParseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, concord.Errorf(concord.EINVALID, "--since %q: want an RFC 3339 time, a date (2026-01-31) or an age (24h, 7d)", s)
}
