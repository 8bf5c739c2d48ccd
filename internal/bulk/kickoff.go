package bulk

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/fhirapi"
	"github.com/concord-health/concord/internal/httperr"
)

// maxActiveJobs caps the exports one requester may have queued or
// running at once.
const maxActiveJobs = 5

// kickoff is GET and POST [base]/$export, [base]/Patient/$export and
// [base]/Group/[id]/$export: it checks the request, authorises every
// type it would export, and stores a queued job, audited in the same
// transaction; the answer is 202 with the job's status URL in
// Content-Location. Refusals are audited too.
func (e *Exporter) kickoff(level string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		object := "fhir/$export"
		if level == levelPatient {
			object = "fhir/Patient/$export"
		} else if level == levelGroup {
			object = "Group/" + r.PathValue("id") + "/$export"
		}
		job, err := e.start(r, level)
		if err != nil {
			rec := e.record(r, concord.AuditExecute, object, httperr.Status(err), concord.ErrorMessage(err))
			if aerr := e.appendAudit(r.Context(), rec); aerr != nil {
				err = concord.WrapError(concord.EUNAVAILABLE, aerr, "audit trail unavailable")
			}
			httperr.Write(w, r, err)
			return
		}
		rec := e.record(r, concord.AuditExecute, object, http.StatusAccepted, "export job "+job.ID)
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		err = e.store.Update(ctx, func(tx concord.Tx) error {
			if err := tx.CreateExportJob(ctx, job); err != nil {
				return err
			}
			rc := rec
			return tx.AppendAudit(ctx, &rc)
		})
		if err != nil {
			httperr.Write(w, r, concord.WrapError(concord.EUNAVAILABLE, err, "the export job could not be stored"))
			return
		}
		select { // this node's worker starts it at once
		case e.wake <- struct{}{}:
		default:
		}
		w.Header().Set("Content-Location", baseURL(r)+"/$export-status/"+job.ID)
		w.Header().Set("Content-Type", "application/fhir+json")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"informational","diagnostics":%q}]}`,
			"export job "+job.ID+" accepted; poll the Content-Location for its status")
	})
}

// start checks a kick-off request and returns the job to store.
func (e *Exporter) start(r *http.Request, level string) (*concord.ExportJob, error) {
	p := concord.PrincipalFrom(r.Context())
	if p == nil {
		return nil, concord.Errorf(concord.EUNAUTHORIZED, "authentication required")
	}
	if p.Patient != "" {
		return nil, concord.Errorf(concord.EFORBIDDEN, "a token bound to one patient cannot start a bulk export")
	}
	if !preferAsync(r) {
		return nil, concord.Errorf(concord.EINVALID, "a bulk export runs asynchronously: send Prefer: respond-async")
	}
	if acc := r.Header.Get("Accept"); acc != "" && !strings.Contains(acc, "json") && !strings.Contains(acc, "*/*") {
		return nil, concord.Errorf(concord.EINVALID, "Accept %q: the kick-off answers application/fhir+json", acc)
	}
	if f := r.URL.Query().Get("_format"); f != "" && !strings.Contains(f, "json") {
		return nil, concord.Errorf(concord.EINVALID, "_format %q: the kick-off answers application/fhir+json", f)
	}
	var raw rawParams
	if r.Method == http.MethodPost {
		if len(r.URL.Query()) > 0 {
			return nil, concord.Errorf(concord.EINVALID, "a POST $export takes its parameters in the Parameters body, not the URL")
		}
		if ct := r.Header.Get("Content-Type"); ct != "" {
			mt, _, err := mime.ParseMediaType(ct)
			if err != nil || (mt != "application/fhir+json" && mt != "application/json") {
				return nil, concord.Errorf(concord.EINVALID, "a POST $export takes a Parameters resource as application/fhir+json, not %q", ct)
			}
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxParametersBody+1))
		if err != nil {
			return nil, concord.Errorf(concord.EINVALID, "reading the body: %v", err)
		}
		if raw, err = fromParameters(body); err != nil {
			return nil, err
		}
	} else {
		raw = fromQuery(r.URL.Query())
	}
	// A caller cannot pile up work: each job may export the whole store.
	if n, err := e.store.ActiveExportJobs(r.Context(), p.Actor); err != nil {
		return nil, err
	} else if n >= maxActiveJobs {
		return nil, concord.Errorf(concord.ECONFLICT, "this token has %d exports queued or running (at most %d): wait for one to finish, or cancel one", n, maxActiveJobs)
	}
	now := e.opt.Now().UTC().Truncate(time.Microsecond)
	group := ""
	if level == levelGroup {
		group = r.PathValue("id")
		if !concord.IsFHIRID(group) {
			return nil, concord.Errorf(concord.ENOTFOUND, "no Group/%s", group)
		}
	}
	prm, err := parse(level, group, raw, now)
	if err != nil {
		return nil, err
	}
	// Every exported type needs a read and search scope without patient
	// context: types the caller may not read are refused, not skipped, so
	// that an export never looks complete when it is not.
	var denied []string
	for _, t := range prm.Types {
		g, err := concord.Authorize(p, concord.Action{ResourceType: t, Ops: concord.OpRead | concord.OpSearch})
		if err != nil || g.Patient != "" {
			denied = append(denied, t)
		}
	}
	if len(denied) > 0 {
		what := strings.Join(denied, ", ")
		if len(denied) > 10 {
			what = strings.Join(denied[:10], ", ") + fmt.Sprintf(" and %d more", len(denied)-10)
		}
		return nil, concord.Errorf(concord.EFORBIDDEN, "no scope grants read and search without patient context on %s (list the types you may read in _type)", what)
	}
	if level == levelGroup {
		if _, err := concord.Authorize(p, concord.Action{ResourceType: "Group", Ops: concord.OpRead}); err != nil {
			return nil, err
		}
		members, skipped, err := fhirapi.GroupMembers(r.Context(), e.store, group)
		if err != nil {
			return nil, err
		}
		if len(members) > maxGroupMembers {
			return nil, concord.Errorf(concord.ETOOLARGE, "Group/%s has %d patient members; an export takes at most %d", group, len(members), maxGroupMembers)
		}
		if len(prm.Patients) > 0 { // the patient parameter narrows the Group
			var in []string
			for _, id := range prm.Patients {
				for _, m := range members {
					if m == id {
						in = append(in, id)
						break
					}
				}
			}
			members = in
		}
		prm.Patients, prm.Skipped = members, skipped
		if members == nil {
			prm.Patients = []string{} // no member: nothing to export
		}
	}
	id, err := concord.NewID(now)
	if err != nil {
		return nil, err
	}
	return &concord.ExportJob{
		ID:              id,
		Requester:       p.Actor,
		Request:         requestURL(r),
		Params:          prm.encode(),
		Status:          concord.ExportQueued,
		TransactionTime: now,
		Created:         now,
	}, nil
}

// requestURL is the kick-off request's full URL.
func requestURL(r *http.Request) string {
	u := baseURL(r) + strings.TrimPrefix(r.URL.Path, "/fhir")
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	return u
}

// preferAsync reports whether the request has Prefer: respond-async.
func preferAsync(r *http.Request) bool {
	for _, h := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(h, ",") {
			for _, pref := range strings.Split(part, ";") {
				if strings.EqualFold(strings.TrimSpace(pref), "respond-async") {
					return true
				}
			}
		}
	}
	return false
}
