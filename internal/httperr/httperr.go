// Package httperr is the one table from Concord's error codes to what
// HTTP callers see, and the writer of error answers, for every HTTP front
// door (the server's own routes, the admin API, FHIR later).
package httperr

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/concord-health/concord"
)

// mapping is the one table from Concord error codes to what HTTP callers
// see: the status, and the OperationOutcome issue type
// (http://hl7.org/fhir/issue-type) for FHIR routes.
var mapping = map[string]struct {
	status    int
	issueType string
}{
	concord.EINVALID:      {http.StatusBadRequest, "invalid"},
	concord.ENOTFOUND:     {http.StatusNotFound, "not-found"},
	concord.ECONFLICT:     {http.StatusConflict, "conflict"},
	concord.EGONE:         {http.StatusGone, "deleted"},
	concord.EPRECONDITION: {http.StatusPreconditionFailed, "conflict"},
	concord.EUNAUTHORIZED: {http.StatusUnauthorized, "login"},
	concord.EFORBIDDEN:    {http.StatusForbidden, "forbidden"},
	concord.ETOOLARGE:     {http.StatusRequestEntityTooLarge, "too-costly"},
	concord.EUNAVAILABLE:  {http.StatusServiceUnavailable, "transient"},
	concord.EUNSUPPORTED:  {http.StatusNotImplemented, "not-supported"},
	concord.EINTERNAL:     {http.StatusInternalServerError, "exception"},
}

// Status returns the HTTP status for err.
func Status(err error) int {
	if m, ok := mapping[concord.ErrorCode(err)]; ok {
		return m.status
	}
	return http.StatusInternalServerError
}

// Write answers with err: an OperationOutcome on FHIR routes, a JSON
// error object elsewhere. Only the caller-safe message is shown.
func Write(w http.ResponseWriter, r *http.Request, err error) {
	code := concord.ErrorCode(err)
	m, ok := mapping[code]
	if !ok {
		code, m = concord.EINTERNAL, mapping[concord.EINTERNAL]
	}
	if m.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="concord"`)
	}
	msg := concord.ErrorMessage(err)
	issues := concord.ErrorIssues(err)
	if strings.HasPrefix(r.URL.Path, "/fhir/") || r.URL.Path == "/fhir" {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.WriteHeader(m.status)
		json.NewEncoder(w).Encode(Outcome(err))
		return
	}
	body := map[string]any{"code": code, "message": msg}
	if len(issues) > 0 {
		body["issues"] = issues
	}
	JSON(w, m.status, map[string]any{"error": body})
}

// OperationOutcome returns issues as a FHIR OperationOutcome, ready to
// encode as JSON. An issue without a severity is an error; one without a
// code gets defaultCode (the issue type of the error's taxonomy code).
func OperationOutcome(issues []concord.Issue, defaultCode string) map[string]any {
	out := make([]map[string]any, 0, len(issues))
	for _, is := range issues {
		sev, c := is.Severity, is.Code
		if sev == "" {
			sev = concord.SeverityError
		}
		if c == "" {
			c = defaultCode
		}
		o := map[string]any{"severity": sev, "code": c}
		if is.Diagnostics != "" {
			o["diagnostics"] = is.Diagnostics
		}
		if is.Expression != "" {
			o["expression"] = []string{is.Expression}
		}
		out = append(out, o)
	}
	return map[string]any{"resourceType": "OperationOutcome", "issue": out}
}

// Outcome returns err as a FHIR OperationOutcome: the issues it carries
// (a validation's), or one issue with its message. When expression is
// given, it names the element at fault (Bundle.entry[3]) and the
// diagnostics start with it.
func Outcome(err error, expression ...string) map[string]any {
	m, ok := mapping[concord.ErrorCode(err)]
	if !ok {
		m = mapping[concord.EINTERNAL]
	}
	if issues := concord.ErrorIssues(err); len(issues) > 0 {
		if len(expression) > 0 {
			at := strings.Join(expression, ", ")
			issues = append([]concord.Issue(nil), issues...)
			for i := range issues {
				issues[i].Diagnostics = at + ": " + issues[i].Diagnostics
			}
		}
		return OperationOutcome(issues, m.issueType)
	}
	issue := map[string]any{"severity": "error", "code": m.issueType, "diagnostics": concord.ErrorMessage(err)}
	if len(expression) > 0 {
		issue["diagnostics"] = strings.Join(expression, ", ") + ": " + concord.ErrorMessage(err)
		issue["expression"] = expression
	}
	return map[string]any{"resourceType": "OperationOutcome", "issue": []map[string]any{issue}}
}

// JSON writes v as a compact JSON answer with the given status.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
