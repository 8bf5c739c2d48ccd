package bulk

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/httperr"
)

// retryAfter is the Retry-After a running job's status answers with.
const retryAfter = "2"

// ownJob returns the job the request names if the caller started it.
// Another caller's job, and a cancelled or expired one, are not found:
// their existence is not told to anyone else.
func (e *Exporter) ownJob(r *http.Request) (*concord.ExportJob, error) {
	id := r.PathValue("job")
	notFound := concord.Errorf(concord.ENOTFOUND, "no export job %q", id)
	if !concord.IsFHIRID(id) {
		return nil, notFound
	}
	job, err := e.store.ExportJob(r.Context(), id)
	if concord.ErrorCode(err) == concord.ENOTFOUND {
		return nil, notFound
	} else if err != nil {
		return nil, err
	}
	p := concord.PrincipalFrom(r.Context())
	if p == nil || p.Actor != job.Requester || job.Status == concord.ExportDeleted {
		return nil, notFound
	}
	return job, nil
}

// status is GET of a job's status URL: 202 with X-Progress while it is
// queued or running, 200 with the completion manifest when it is done,
// the job's error as an OperationOutcome when it failed.
func (e *Exporter) status(w http.ResponseWriter, r *http.Request) {
	concord.NoteAudit(r.Context(), "export/"+r.PathValue("job"), "")
	job, err := e.ownJob(r)
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	switch job.Status {
	case concord.ExportQueued, concord.ExportRunning:
		progress := job.Progress
		if progress == "" {
			progress = job.Status
		}
		w.Header().Set("X-Progress", progress)
		w.Header().Set("Retry-After", retryAfter)
		w.WriteHeader(http.StatusAccepted)
	case concord.ExportFailed:
		httperr.Write(w, r, jobError(job.Error))
	case concord.ExportCompleted:
		files, err := e.store.ExportFiles(r.Context(), job.ID)
		if err != nil {
			httperr.Write(w, r, err)
			return
		}
		body, err := json.Marshal(manifest(baseURL(r), job, files))
		if err != nil {
			httperr.Write(w, r, concord.WrapError(concord.EINTERNAL, err, "manifest"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Expires", job.Expires.UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	default:
		httperr.Write(w, r, concord.Errorf(concord.EINTERNAL, "export job %s is in an unknown state %q", job.ID, job.Status))
	}
}

// manifestFile is one entry of a manifest's output or error list.
type manifestFile struct {
	Type  string `json:"type"`
	URL   string `json:"url"`
	Count int64  `json:"count"`
}

// manifest is the completion manifest of the Bulk Data Access IG.
func manifest(base string, job *concord.ExportJob, files []*concord.ExportFile) map[string]any {
	lists := map[string][]manifestFile{concord.ExportOutput: {}, concord.ExportError: {}}
	for _, f := range files {
		m := manifestFile{Type: f.Type, URL: fmt.Sprintf("%s/$export-file/%s/%d", base, job.ID, f.No), Count: f.Count}
		lists[f.Kind] = append(lists[f.Kind], m)
	}
	out := map[string]any{
		"transactionTime":     job.TransactionTime.UTC().Format("2006-01-02T15:04:05.000000Z"),
		"request":             job.Request,
		"requiresAccessToken": true,
		"output":              lists[concord.ExportOutput],
		"error":               lists[concord.ExportError],
	}
	if d, ok := lists[concord.ExportDeletes]; ok {
		out["deleted"] = d
	}
	return out
}

// jobError turns a failed job's stored error ("code: message") back into
// an error with its taxonomy code.
func jobError(s string) error {
	code, msg, ok := strings.Cut(s, ": ")
	switch code {
	case concord.EINVALID, concord.ENOTFOUND, concord.EGONE, concord.EFORBIDDEN, concord.ETOOLARGE,
		concord.EUNAVAILABLE, concord.EUNSUPPORTED, concord.EINTERNAL:
		if ok {
			return concord.Errorf(code, "the export failed: %s", msg)
		}
	}
	return concord.Errorf(concord.EINTERNAL, "the export failed: %s", s)
}

// cancel is DELETE of a job's status URL: the job is cancelled (a running
// one stops at its next chunk), gone at once for its requester, and its
// files are removed by the sweep. The cancellation is audited in the
// same transaction; refusals are audited too.
func (e *Exporter) cancel(w http.ResponseWriter, r *http.Request) {
	object := "export/" + r.PathValue("job")
	job, err := e.ownJob(r)
	if err == nil {
		rec := e.record(r, concord.AuditDelete, object, http.StatusAccepted, "")
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		err = e.store.Update(ctx, func(tx concord.Tx) error {
			if err := tx.DeleteExportJob(ctx, job.ID); err != nil {
				return err
			}
			rc := rec
			return tx.AppendAudit(ctx, &rc)
		})
	}
	if err != nil {
		rec := e.record(r, concord.AuditDelete, object, httperr.Status(err), concord.ErrorMessage(err))
		if aerr := e.appendAudit(r.Context(), rec); aerr != nil {
			err = concord.WrapError(concord.EUNAVAILABLE, aerr, "audit trail unavailable")
		}
		httperr.Write(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"informational","diagnostics":%q}]}`,
		"export job "+job.ID+" cancelled; its files are being deleted")
}

// download is GET of an output or error file: its NDJSON, streamed chunk
// by chunk from the store, only to the caller that started the job. The
// read is audited before the first byte is sent (no audit record, no
// data); refusals are audited too.
func (e *Exporter) download(w http.ResponseWriter, r *http.Request) {
	object := "export/" + r.PathValue("job") + "/" + r.PathValue("file")
	file, err := e.ownFile(r)
	status := http.StatusOK
	note := ""
	if err != nil {
		status, note = httperr.Status(err), concord.ErrorMessage(err)
	} else {
		note = fmt.Sprintf("%d %s", file.Count, file.Type)
	}
	if aerr := e.appendAudit(r.Context(), e.record(r, concord.AuditRead, object, status, note)); aerr != nil {
		httperr.Write(w, r, concord.WrapError(concord.EUNAVAILABLE, aerr, "audit trail unavailable: response withheld"))
		return
	}
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	w.Header().Set("Content-Type", ndjson)
	w.Header().Set("Content-Length", strconv.FormatInt(file.Bytes, 10))
	w.WriteHeader(http.StatusOK)
	for i := 0; i < file.Chunks; i++ {
		data, err := e.store.ExportChunk(r.Context(), file.Job, file.No, i)
		if err != nil {
			// The status line is sent: the short body tells the client.
			e.opt.Logger.Error("export file chunk unreadable", "job", file.Job, "file", file.No, "chunk", i, "err", err)
			return
		}
		if _, err := w.Write(data); err != nil {
			return
		}
	}
}

// ownFile returns the file the request names, of a completed job the
// caller started.
func (e *Exporter) ownFile(r *http.Request) (*concord.ExportFile, error) {
	job, err := e.ownJob(r)
	if err != nil {
		return nil, err
	}
	no, err := strconv.Atoi(r.PathValue("file"))
	if err != nil || no < 0 || job.Status != concord.ExportCompleted {
		return nil, concord.Errorf(concord.ENOTFOUND, "no file %q of export job %s", r.PathValue("file"), job.ID)
	}
	files, err := e.store.ExportFiles(r.Context(), job.ID)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if f.No == no {
			return f, nil
		}
	}
	return nil, concord.Errorf(concord.ENOTFOUND, "no file %d of export job %s", no, job.ID)
}
