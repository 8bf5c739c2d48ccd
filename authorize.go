package concord

import "context"

// Principal is the authenticated caller of a request: a token's holder, or
// an operator at the command line.
type Principal struct {
	Actor   string // token ID, or "cli:user@host" for the command line
	Role    Role
	Patient string // set when the caller is bound to one patient
	Scopes  []Scope
	Address string // network address the request came from
}

// Action is what a caller wants to do. Either Permission is set (an action
// on configuration, interfaces, the audit trail, …) or ResourceType and Ops
// are (an action on health data). Patient names the patient whose
// compartment the data belongs to, when the front door knows it.
type Action struct {
	Permission   Permission
	ResourceType string
	Ops          Ops
	Patient      string
}

// Grant is a positive authorisation decision. When Patient is set, the
// caller may act only on that patient's compartment, and the front door
// must restrict searches, includes and history to it.
type Grant struct {
	Patient string
}

// Authorize is the one authoriser of every front door. It decides whether p
// may perform a, from p's role and, for health data, p's SMART scopes.
// Denials are EFORBIDDEN.
func Authorize(p *Principal, a Action) (Grant, error) {
	if p == nil {
		return Grant{}, Errorf(EUNAUTHORIZED, "authentication required")
	}
	if a.Permission != "" {
		if p.Role.Has(a.Permission) {
			return Grant{}, nil
		}
		return Grant{}, Errorf(EFORBIDDEN, "role %s may not %s", p.Role, a.Permission)
	}
	if a.ResourceType == "" || a.Ops == 0 {
		return Grant{}, Errorf(EINTERNAL, "authorisation asked for an empty action")
	}
	patientOnly := false
	for _, s := range p.Scopes {
		if !s.Allows(a.ResourceType, a.Ops) || !p.Role.allowsContext(s.Context) {
			continue
		}
		if s.Context != ScopePatient {
			return Grant{}, nil // user/ and system/ scopes are not limited to one patient
		}
		if p.Patient != "" && (a.Patient == "" || a.Patient == p.Patient) {
			patientOnly = true
		}
	}
	if patientOnly {
		return Grant{Patient: p.Patient}, nil
	}
	return Grant{}, Errorf(EFORBIDDEN, "no scope grants %s on %s", a.Ops, a.ResourceType)
}

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal carried by ctx, or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

type grantKey struct{}

// WithGrant returns a context carrying g, the authorisation decision for
// the request. The HTTP guard sets it on every authorised request to
// health data, so handlers can restrict what they return to g.Patient's
// compartment when it is set.
func WithGrant(ctx context.Context, g Grant) context.Context {
	return context.WithValue(ctx, grantKey{}, g)
}

// GrantFrom returns the grant carried by ctx, and false when there is none
// (a public route, a route open to any caller, or no guard at all).
func GrantFrom(ctx context.Context) (Grant, bool) {
	g, ok := ctx.Value(grantKey{}).(Grant)
	return g, ok
}
