package fhirapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhirpath"
	"github.com/concord-health/concord/internal/httperr"
	"github.com/concord-health/concord/internal/validate"
)

// validateResource validates a resource about to be stored against the
// R4 definitions: any error-severity issue refuses it (EINVALID, 400)
// with every issue, warnings included, in the OperationOutcome. Warnings
// alone do not stop a write. Every path that stores a resource calls it
// (create and update through readResource, patch).
func validateResource(ctx context.Context, res fhirpath.JSONRef) error {
	issues := validate.At(ctx, res)
	if !validate.HasErrors(issues) {
		return nil
	}
	n := 0
	for _, is := range issues {
		if is.IsError() {
			n++
		}
	}
	return &concord.Error{Code: concord.EINVALID, Issues: issues,
		Message: fmt.Sprintf("the resource does not conform to FHIR R4 (%d errors)", n)}
}

// baseProfile is the canonical URL of a resource type's base profile, the
// only profile $validate checks against.
func baseProfile(typ string) string { return "http://hl7.org/fhir/StructureDefinition/" + typ }

// validateOperation is how the CapabilityStatement announces $validate
// for every resource type.
var validateOperation = []map[string]string{{
	"name":       "validate",
	"definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate",
}}

// validateModes are the modes of $validate (resource-validation-mode);
// "" and profile validate the resource alone.
var validateModes = map[string]bool{"": true, "create": true, "update": true, "delete": true, "profile": true}

// validateInput is what a $validate request asks.
type validateInput struct {
	resource fhirpath.JSONRef
	has      bool // a resource was given
	mode     string
	profile  string
}

// validateOp is $validate at type level (POST /fhir/{type}/$validate) and
// instance level (POST /fhir/{type}/{id}/$validate). The body is the
// resource, or a Parameters resource with resource, mode (create, update,
// delete or profile) and profile; mode and profile may also come in the
// query. Only the type's base profile is known. The answer is 200 with an
// OperationOutcome whether the resource is valid or not; 4xx means the
// request itself could not be handled.
func (a *api) validateOp(w http.ResponseWriter, r *http.Request, typ string) {
	id := r.PathValue("id")
	if id != "" && !concord.IsFHIRID(id) {
		httperr.Write(w, r, concord.Errorf(concord.EINVALID, "%q is not a FHIR id", id))
		return
	}
	in, err := readValidateInput(r, typ)
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	var issues []concord.Issue
	issue := func(code, expr, format string, args ...any) {
		issues = append(issues, concord.Issue{Severity: concord.SeverityError, Code: code, Expression: expr,
			Diagnostics: fmt.Sprintf(format, args...)})
	}
	if in.profile != "" && strings.TrimSuffix(in.profile, "|4.0.1") != baseProfile(typ) {
		issue("not-supported", "", "profile %s is not supported: this server validates against the base profile %s only",
			in.profile, baseProfile(typ))
	}
	bodyID := ""
	if in.has {
		root := in.resource
		if rt := member(root, "resourceType"); rt != "" && rt != typ {
			issue(validate.CodeInvalid, "", "resourceType is %q, the URL says %s", rt, typ)
		}
		bodyID = member(root, "id")
		issues = append(issues, validate.At(r.Context(), root)...)
	}
	switch in.mode {
	case "update":
		switch {
		case bodyID == "":
			issue(validate.CodeRequired, typ+".id", "an update needs the resource's id")
		case id != "" && bodyID != id:
			issue(validate.CodeInvalid, typ+".id", "the resource's id %q is not the URL's %q", bodyID, id)
		}
	case "delete":
		target := id
		if target == "" {
			target = bodyID
		}
		if target == "" {
			httperr.Write(w, r, concord.Errorf(concord.EINVALID, "mode delete needs the id of the resource (in the URL)"))
			return
		}
		res, err := a.store.Resource(r.Context(), typ, target)
		switch {
		case concord.ErrorCode(err) == concord.ENOTFOUND || (err == nil && res.Deleted):
			issues = append(issues, concord.Issue{Severity: concord.SeverityError, Code: "not-found",
				Diagnostics: fmt.Sprintf("there is no %s/%s to delete", typ, target)})
		case err != nil:
			httperr.Write(w, r, err)
			return
		default:
			noteRead(r, res)
		}
	}
	if !validate.HasErrors(issues) {
		msg := "no problems found"
		if len(issues) > 0 {
			msg = "no errors found"
		}
		issues = append(issues, concord.Issue{Severity: concord.SeverityInformation, Code: validate.CodeInformational, Diagnostics: msg})
	}
	out, err := json.Marshal(httperr.OperationOutcome(issues, "invalid"))
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	writeBody(w, r, http.StatusOK, out)
}

// readValidateInput reads a $validate body: a Parameters resource (unless
// the type is Parameters and it has no resource parameter) or the
// resource itself.
func readValidateInput(r *http.Request, typ string) (*validateInput, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	in := &validateInput{mode: q.Get("mode"), profile: q.Get("profile")}
	if len(strings.TrimSpace(string(body))) > 0 {
		doc, err := fhirpath.ParseJSON(body)
		if err != nil {
			return nil, concord.Errorf(concord.EINVALID, "the body is not valid JSON: %v", err)
		}
		root := doc.Root()
		if root.Kind() != fhirpath.JSONObject {
			return nil, concord.Errorf(concord.EINVALID, "the body is not a JSON object")
		}
		params := member(root, "resourceType") == "Parameters" && (typ != "Parameters" || hasParameter(root, "resource"))
		if !params {
			in.resource, in.has = root, true
		} else if err := in.readParameters(root); err != nil {
			return nil, err
		}
	}
	if !validateModes[in.mode] {
		return nil, concord.Errorf(concord.EINVALID, "mode %q: $validate takes create, update, delete or profile", in.mode)
	}
	if !in.has && in.mode != "delete" {
		return nil, concord.Errorf(concord.EINVALID, "$validate needs a resource (the body, or a Parameters resource with a resource parameter)")
	}
	return in, nil
}

// readParameters reads the resource, mode and profile parameters.
func (in *validateInput) readParameters(root fhirpath.JSONRef) error {
	ps, ok := root.Get("parameter")
	if !ok {
		return nil
	}
	var err error
	ps.Each(func(_ string, p fhirpath.JSONRef) bool {
		switch member(p, "name") {
		case "resource":
			res, ok := p.Get("resource")
			if !ok {
				err = errors.New("the resource parameter has no resource")
				return false
			}
			in.resource, in.has = res, true
		case "mode":
			in.mode = parameterValue(p, "valueCode", "valueString")
		case "profile":
			in.profile = parameterValue(p, "valueUri", "valueCanonical", "valueString")
		}
		return true
	})
	if err != nil {
		return concord.Errorf(concord.EINVALID, "%v", err)
	}
	return nil
}

// parameterValue returns the first of the named value members of a
// parameter that is a string.
func parameterValue(p fhirpath.JSONRef, names ...string) string {
	for _, n := range names {
		if v := member(p, n); v != "" {
			return v
		}
	}
	return ""
}

// hasParameter tells whether a Parameters resource has a parameter name.
func hasParameter(root fhirpath.JSONRef, name string) bool {
	ps, ok := root.Get("parameter")
	found := false
	if ok {
		ps.Each(func(_ string, p fhirpath.JSONRef) bool {
			found = member(p, "name") == name
			return !found
		})
	}
	return found
}

// member returns the string member name of an object, "" when it is
// absent or not a string (or obj is not an object).
func member(obj fhirpath.JSONRef, name string) string {
	v, ok := obj.Get(name)
	if !ok || v.Kind() != fhirpath.JSONString {
		return ""
	}
	return v.String()
}
