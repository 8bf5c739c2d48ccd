package concord

import (
	"strings"
)

// Scope contexts of SMART on FHIR resource scopes.
const (
	ScopePatient = "patient"
	ScopeUser    = "user"
	ScopeSystem  = "system"
)

// Ops is a set of FHIR interactions in SMART v2 terms: c(reate), r(ead),
// u(pdate), d(elete), s(earch).
type Ops uint8

// The interactions a SMART v2 scope can grant.
const (
	OpCreate Ops = 1 << iota
	OpRead
	OpUpdate
	OpDelete
	OpSearch

	OpsAll = OpCreate | OpRead | OpUpdate | OpDelete | OpSearch
)

// String returns the ops in SMART v2 order, e.g. "rs".
func (o Ops) String() string {
	var b strings.Builder
	for i, c := range "cruds" {
		if o&(1<<i) != 0 {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// Scope is one parsed OAuth scope. Resource scopes (patient/Observation.rs)
// have a Context, a ResourceType ("*" for all) and Ops; other SMART scopes
// (openid, fhirUser, launch/patient, offline_access, …) keep only their Raw
// text and grant no access to data.
type Scope struct {
	Raw          string
	Context      string
	ResourceType string
	Ops          Ops
}

// IsResource reports whether the scope grants access to resources.
func (s Scope) IsResource() bool { return s.Context != "" }

// Allows reports whether the scope grants every op in want on resourceType.
func (s Scope) Allows(resourceType string, want Ops) bool {
	if !s.IsResource() || want == 0 {
		return false
	}
	if s.ResourceType != "*" && s.ResourceType != resourceType {
		return false
	}
	return s.Ops&want == want
}

// nonResourceScopes are the SMART App Launch scopes that carry no resource
// access (SMART App Launch 2.0.0, "Scopes and Launch Context").
var nonResourceScopes = map[string]bool{
	"openid": true, "fhirUser": true, "profile": true, "launch": true,
	"launch/patient": true, "launch/encounter": true,
	"offline_access": true, "online_access": true,
}

// ParseScope parses a SMART scope in v2 syntax (patient/Observation.rs,
// system/*.cruds, user/*.rs) or v1 syntax (patient/*.read, user/*.write,
// user/*.*). Granular v2 restrictions (patient/Observation.rs?category=…)
// are refused with EUNSUPPORTED rather than silently widened.
func ParseScope(raw string) (Scope, error) {
	if nonResourceScopes[raw] {
		return Scope{Raw: raw}, nil
	}
	bad := func(why string) (Scope, error) {
		return Scope{}, Errorf(EINVALID, "scope %q: %s", raw, why)
	}
	if strings.Contains(raw, "?") {
		return Scope{}, Errorf(EUNSUPPORTED, "scope %q: search restrictions (?param=) are not supported yet", raw)
	}
	ctx, rest, ok := strings.Cut(raw, "/")
	if !ok {
		return bad("want context/Type.ops, e.g. patient/Observation.rs")
	}
	switch ctx {
	case ScopePatient, ScopeUser, ScopeSystem:
	default:
		return bad("context must be patient, user or system")
	}
	typ, ops, ok := strings.Cut(rest, ".")
	if !ok || typ == "" || ops == "" {
		return bad("want context/Type.ops, e.g. patient/Observation.rs")
	}
	if typ != "*" && !isResourceTypeName(typ) {
		return bad("resource type must be * or a FHIR resource type name")
	}
	s := Scope{Raw: raw, Context: ctx, ResourceType: typ}
	switch ops {
	case "read": // SMART v1
		s.Ops = OpRead | OpSearch
	case "write":
		s.Ops = OpCreate | OpUpdate | OpDelete
	case "*":
		s.Ops = OpsAll
	default:
		// SMART v2: a non-empty subsequence of "cruds", in that order.
		last := -1
		for _, c := range ops {
			i := strings.IndexRune("cruds", c)
			if i < 0 {
				return bad("permissions must be letters of cruds")
			}
			if i <= last {
				return bad("permissions must appear once each in the order c r u d s")
			}
			last = i
			s.Ops |= 1 << i
		}
	}
	return s, nil
}

// isResourceTypeName reports whether s has the shape of a FHIR resource type
// name: an upper-case ASCII letter followed by ASCII letters.
func isResourceTypeName(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}
