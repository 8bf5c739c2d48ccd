package validate

import (
	"strings"

	"github.com/concord-health/concord/fhir"
	"github.com/concord-health/concord/fhirpath"
)

// reference checks Reference.reference: a relative reference must have
// the form Type/id, Type/id/_history/vid or Type?criteria (a conditional
// reference in a transaction) with a resource type, and the type of a
// relative or absolute RESTful reference must be one the element allows.
// Contained (#id), urn:uuid: and urn:oid: references and other URLs are
// not checked here (ref-1 checks contained ones).
func (v *validator) reference(val fhirpath.JSONRef, tr *fhir.TypeRef) {
	rv, ok := val.Get("reference")
	if !ok || rv.Kind() != fhirpath.JSONString {
		return
	}
	ref := rv.String()
	typ, ok := referenceType(ref)
	if !ok {
		n := v.push("reference")
		v.errorf(CodeInvalid, "%q is not a reference of the form Type/id", clip(ref))
		v.pop(n)
		return
	}
	if typ == "" || tr == nil || allowsTarget(tr.Targets, typ) {
		return
	}
	n := v.push("reference")
	v.errorf(CodeInvalid, "a reference to a %s is not allowed here (allowed: %s)", typ, strings.Join(tr.Targets, ", "))
	v.pop(n)
}

// referenceType returns the resource type a reference names; "" when it
// names none this can tell (contained, URNs, URLs that are not FHIR
// RESTful). ok is false for a relative reference that is not of a FHIR
// form.
func referenceType(ref string) (typ string, ok bool) {
	if ref == "" || ref[0] == '#' || strings.HasPrefix(ref, "urn:") {
		return "", true
	}
	if i := strings.Index(ref, "://"); i >= 0 {
		// An absolute URL: [base]/Type/id or [base]/Type/id/_history/vid.
		path := ref[i+3:]
		if q := strings.IndexAny(path, "?#"); q >= 0 {
			path = path[:q]
		}
		segs := strings.Split(path, "/")
		if len(segs) >= 5 && segs[len(segs)-2] == "_history" {
			segs = segs[:len(segs)-2]
		}
		if len(segs) >= 3 && fhir.IsResource(segs[len(segs)-2]) {
			return segs[len(segs)-2], true
		}
		return "", true
	}
	if strings.Contains(ref, ":") {
		return "", true // another scheme
	}
	typ, rest, cut := strings.Cut(ref, "?")
	if !cut {
		var slash bool
		typ, rest, slash = strings.Cut(ref, "/")
		if !slash {
			return "", false
		}
		id, hist, more := strings.Cut(rest, "/")
		if !isID(id) {
			return "", false
		}
		if more {
			h, vid, _ := strings.Cut(hist, "/")
			if h != "_history" || !isID(vid) {
				return "", false
			}
		}
	}
	if !fhir.IsResource(typ) {
		return "", false
	}
	return typ, true
}

// allowsTarget tells whether a Reference whose targets are targets may
// point to a resource of type typ.
func allowsTarget(targets []string, typ string) bool {
	if len(targets) == 0 {
		return true
	}
	t, ok := fhir.Type(typ)
	if !ok {
		return false
	}
	for _, target := range targets {
		if target == "Resource" || t.IsA(target) {
			return true
		}
	}
	return false
}

// isID tells whether s is a FHIR id: 1 to 64 of A-Z a-z 0-9 - and '.'.
func isID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
