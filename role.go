package concord

import (
	"slices"
	"strings"
)

// Role is the kind of user or system a token is issued to. The role bounds
// what a token may ever do; its scopes narrow that further for health data.
type Role string

// The roles Concord knows.
const (
	RoleAdmin       Role = "admin"       // runs the installation: configuration, tokens, everything
	RoleClinician   Role = "clinician"   // reads and writes health data as a user
	RoleIntegration Role = "integration" // an interface or system: channels, messages, system-level data
	RoleAuditor     Role = "auditor"     // reads the audit trail; no health data
	RolePatient     Role = "patient"     // one patient's own records
)

// Roles lists every role in a stable order.
var Roles = []Role{RoleAdmin, RoleClinician, RoleIntegration, RoleAuditor, RolePatient}

// Permission names an action on something that is not a FHIR resource:
// configuration, interfaces, the audit trail, tokens, the server's status.
type Permission string

// The permissions the front doors check for non-clinical objects.
const (
	PermStatusRead     Permission = "status.read"
	PermMetricsRead    Permission = "metrics.read"
	PermConfigRead     Permission = "config.read"
	PermConfigManage   Permission = "config.manage"
	PermTokensManage   Permission = "tokens.manage"
	PermAuditRead      Permission = "audit.read"
	PermChannelsRead   Permission = "channels.read"
	PermChannelsManage Permission = "channels.manage"
	PermMessagesRead   Permission = "messages.read"
	PermMessagesManage Permission = "messages.manage"
	// PermMessagesSubmit lets a system send interface messages over HTTP
	// to channels that take them.
	PermMessagesSubmit Permission = "messages.submit"
	// PermTerminologyRead lets a caller read the terminology reports (the
	// codes that need a mapping).
	PermTerminologyRead Permission = "terminology.read"
	// PermLabRead lets a caller read the lab reports (turnaround times
	// per test, aggregated over patients).
	PermLabRead Permission = "lab.read"
)

// roleInfo is what a role may do: its permissions on non-clinical objects,
// the scope contexts (patient/, user/, system/) it may hold, and the scopes
// a token of the role gets when none are asked for.
type roleInfo struct {
	perms         []Permission
	contexts      []string
	defaultScopes []string
}

var roleTable = map[Role]roleInfo{
	RoleAdmin: {
		perms: []Permission{PermStatusRead, PermMetricsRead, PermConfigRead, PermConfigManage,
			PermTokensManage, PermAuditRead, PermChannelsRead, PermChannelsManage,
			PermMessagesRead, PermMessagesManage, PermMessagesSubmit, PermTerminologyRead, PermLabRead},
		contexts:      []string{ScopeSystem, ScopeUser, ScopePatient},
		defaultScopes: []string{"system/*.cruds"},
	},
	RoleClinician: {
		contexts:      []string{ScopeUser, ScopePatient},
		defaultScopes: []string{"user/*.cruds"},
	},
	RoleIntegration: {
		perms: []Permission{PermMetricsRead, PermChannelsRead, PermChannelsManage,
			PermMessagesRead, PermMessagesManage, PermMessagesSubmit, PermTerminologyRead, PermLabRead},
		contexts:      []string{ScopeSystem},
		defaultScopes: []string{"system/*.cruds"},
	},
	RoleAuditor: {
		perms: []Permission{PermAuditRead},
	},
	RolePatient: {
		contexts:      []string{ScopePatient},
		defaultScopes: []string{"patient/*.rs"},
	},
}

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := roleTable[r]; !ok {
		names := make([]string, len(Roles))
		for i, r := range Roles {
			names[i] = string(r)
		}
		return "", Errorf(EINVALID, "unknown role %q (one of %s)", s, strings.Join(names, ", "))
	}
	return r, nil
}

// Has reports whether the role grants the permission.
func (r Role) Has(p Permission) bool {
	return slices.Contains(roleTable[r].perms, p)
}

// DefaultScopes returns the scopes a token of this role gets when none are
// asked for.
func (r Role) DefaultScopes() []string {
	return slices.Clone(roleTable[r].defaultScopes)
}

// allowsContext reports whether a token of this role may hold scopes of the
// given context (patient, user or system).
func (r Role) allowsContext(ctx string) bool {
	return slices.Contains(roleTable[r].contexts, ctx)
}

// CheckScopes verifies that a token of this role, bound to the given patient
// (or none), may hold the scopes. It returns the parsed scopes.
func (r Role) CheckScopes(patient string, scopes []string) ([]Scope, error) {
	out := make([]Scope, 0, len(scopes))
	for _, s := range scopes {
		sc, err := ParseScope(s)
		if err != nil {
			return nil, err
		}
		if sc.IsResource() {
			if !r.allowsContext(sc.Context) {
				return nil, Errorf(EINVALID, "role %s may not hold %s/ scopes (%q)", r, sc.Context, s)
			}
			if sc.Context == ScopePatient && patient == "" {
				return nil, Errorf(EINVALID, "scope %q needs a patient: give --patient", s)
			}
		}
		out = append(out, sc)
	}
	if r == RolePatient && patient == "" {
		return nil, Errorf(EINVALID, "role patient needs a patient: give --patient")
	}
	return out, nil
}
