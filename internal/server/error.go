package server

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/concord-health/concord"
)

// errorMapping is the one table from Concord error codes to what HTTP
// callers see: the status, and the OperationOutcome issue type
// (http://hl7.org/fhir/issue-type) for FHIR routes.
var errorMapping = map[string]struct {
	status    int
	issueType string
}{
	concord.EINVALID:      {http.StatusBadRequest, "invalid"},
	concord.ENOTFOUND:     {http.StatusNotFound, "not-found"},
	concord.ECONFLICT:     {http.StatusConflict, "conflict"},
	concord.EUNAUTHORIZED: {http.StatusUnauthorized, "login"},
	concord.EFORBIDDEN:    {http.StatusForbidden, "forbidden"},
	concord.ETOOLARGE:     {http.StatusRequestEntityTooLarge, "too-costly"},
	concord.EUNAVAILABLE:  {http.StatusServiceUnavailable, "transient"},
	concord.EUNSUPPORTED:  {http.StatusNotImplemented, "not-supported"},
	concord.EINTERNAL:     {http.StatusInternalServerError, "exception"},
}

// StatusOf returns the HTTP status for err.
func StatusOf(err error) int {
	if m, ok := errorMapping[concord.ErrorCode(err)]; ok {
		return m.status
	}
	return http.StatusInternalServerError
}

// writeError answers with err: an OperationOutcome on FHIR routes, a JSON
// error object elsewhere. Only the caller-safe message is shown.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := concord.ErrorCode(err)
	m, ok := errorMapping[code]
	if !ok {
		m = errorMapping[concord.EINTERNAL]
	}
	if m.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="concord"`)
	}
	msg := concord.ErrorMessage(err)
	if strings.HasPrefix(r.URL.Path, "/fhir/") || r.URL.Path == "/fhir" {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.WriteHeader(m.status)
		json.NewEncoder(w).Encode(map[string]any{
			"resourceType": "OperationOutcome",
			"issue": []map[string]any{{
				"severity":    "error",
				"code":        m.issueType,
				"diagnostics": msg,
			}},
		})
		return
	}
	writeJSON(w, m.status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
