package bulk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhir"
	"github.com/concord-health/concord/fhirpath"
	"github.com/concord-health/concord/internal/search"
)

// errLost says the worker no longer holds its job: it was cancelled, or
// another node took it over after this one's lease ran out.
var errLost = errors.New("export job lost")

// Run is the worker: until ctx ends it runs the jobs accepted on any node,
// one at a time, and sweeps expired and cancelled ones. A job it was
// running when ctx ended stays running under its lease and is taken up
// again by this node when it restarts (or by another after the lease).
func (e *Exporter) Run(ctx context.Context) {
	nextSweep := time.Time{}
	for ctx.Err() == nil {
		if now := e.opt.Now(); !now.Before(nextSweep) {
			e.sweep(ctx)
			nextSweep = now.Add(e.opt.SweepEvery)
		}
		job, err := e.claim(ctx)
		if err != nil && ctx.Err() == nil {
			e.opt.Logger.Error("export: claiming a job", "err", err)
		}
		if job != nil {
			e.runJob(ctx, job)
			continue
		}
		t := time.NewTimer(min(e.opt.Poll, time.Until(nextSweep)))
		select {
		case <-ctx.Done():
		case <-e.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// claim takes the next job to run, if any. An idle poll is a read; only
// when a job waits does it take the writer.
func (e *Exporter) claim(ctx context.Context) (*concord.ExportJob, error) {
	if ok, err := e.store.ExportJobWaiting(ctx, e.opt.Node, e.opt.Now()); err != nil || !ok {
		return nil, err
	}
	var job *concord.ExportJob
	err := e.store.Update(ctx, func(tx concord.Tx) error {
		now := e.opt.Now()
		var err error
		job, err = tx.ClaimExportJob(ctx, e.opt.Node, now, now.Add(e.opt.Lease))
		return err
	})
	return job, err
}

// sweep removes expired and cancelled jobs, a few chunks per transaction.
func (e *Exporter) sweep(ctx context.Context) {
	for ctx.Err() == nil {
		var n int
		err := e.store.Update(ctx, func(tx concord.Tx) error {
			var err error
			n, err = tx.SweepExportJobs(ctx, e.opt.Now(), 16)
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				e.opt.Logger.Error("export: sweeping expired jobs", "err", err)
			}
			return
		}
		if n == 0 {
			return
		}
	}
}

// runJob runs a claimed job to its end and records how it ended.
func (e *Exporter) runJob(ctx context.Context, job *concord.ExportJob) {
	err := e.export(ctx, job)
	switch {
	case err == nil, ctx.Err() != nil, errors.Is(err, errLost):
		return // done; or shutting down (resumed later); or cancelled
	}
	e.opt.Logger.Error("export job failed", "job", job.ID, "err", err)
	code := concord.ErrorCode(err)
	if code == "" {
		code = concord.EINTERNAL
	}
	now := e.opt.Now()
	job.Status, job.Error = concord.ExportFailed, code+": "+concord.ErrorMessage(err)
	job.Finished, job.Expires = now, now.Add(e.opt.Expiry)
	if err := e.store.Update(ctx, func(tx concord.Tx) error {
		return tx.SaveExportJob(ctx, job, e.opt.Node, now)
	}); err != nil && concord.ErrorCode(err) != concord.ECONFLICT {
		e.opt.Logger.Error("export: recording a failed job", "job", job.ID, "err", err)
	}
}

// cursor is where a job stands, saved with every chunk it stores.
type cursor struct {
	Phase     int    `json:"phase,omitempty"` // phaseOutput, then phaseDeleted
	Type      int    `json:"type"`            // index in params.Types
	After     string `json:"after,omitempty"` // the last id stored of that type
	File      int    `json:"file"`            // the output file being written, -1 for none
	FileCount int64  `json:"fileCount"`       // resources in it
	Next      int    `json:"next"`            // the next unused file number
	ErrFile   int    `json:"errFile"`         // the error file, -1 for none
	Done      int64  `json:"done"`            // resources exported
	Reported  bool   `json:"reported"`        // the Group's skipped members are in the error file
}

// The phases of a job: the resources, then (for a system export with
// _since) what was deleted since.
const (
	phaseOutput  = 0
	phaseDeleted = 1
	phaseDone    = 2
)

// jobRun is one job being written.
type jobRun struct {
	ctx    context.Context
	e      *Exporter
	job    *concord.ExportJob
	prm    *params
	cur    cursor // as saved
	typ    string // the type being scanned
	buf    bytes.Buffer
	n      int64  // resources in buf
	last   string // id of the last resource in buf
	errBuf bytes.Buffer
	errN   int64
	saved  time.Time
	// patients are prm.Patients as a set, for wasInCompartment.
	patients map[string]bool
}

// export writes a job's files from where its cursor stands, then marks it
// completed.
func (e *Exporter) export(ctx context.Context, job *concord.ExportJob) error {
	prm, err := decodeParams(job.Params)
	if err != nil {
		return err
	}
	j := &jobRun{ctx: ctx, e: e, job: job, prm: prm, cur: cursor{File: -1, ErrFile: -1}, saved: e.opt.Now()}
	if job.Cursor != "" {
		if err := json.Unmarshal([]byte(job.Cursor), &j.cur); err != nil {
			return concord.WrapError(concord.EINTERNAL, err, "export job cursor unreadable")
		}
	}
	if !j.cur.Reported && len(prm.Skipped) > 0 {
		for _, ref := range prm.Skipped {
			j.problem(concord.SeverityWarning, fmt.Sprintf("Group/%s member %s is not a Patient: its data is not exported", prm.Group, ref))
		}
	}
	j.cur.Reported = true
	filters := map[string][]*concord.SearchQuery{}
	for typ, qs := range prm.TypeFilters {
		for _, q := range qs {
			sq, err := typeFilter(typ, q, job.Created)
			if err != nil {
				return err
			}
			filters[typ] = append(filters[typ], sq)
		}
	}
	for j.cur.Phase < phaseDone {
		for j.cur.Type < len(prm.Types) {
			j.typ = prm.Types[j.cur.Type]
			if err := j.scanType(ctx, filters[j.typ]); err != nil {
				return err
			}
			// The type is done: its last chunk, and the cursor on the next.
			if err := j.flush(ctx, func(c *cursor) {
				c.Type++
				c.After, c.File, c.FileCount = "", -1, 0
			}); err != nil {
				return err
			}
		}
		if err := j.flush(ctx, func(c *cursor) { c.Phase, c.Type = c.Phase+1, 0 }); err != nil {
			return err
		}
	}
	now := e.opt.Now()
	job.Status, job.Progress = concord.ExportCompleted, fmt.Sprintf("done: %d resources", j.cur.Done)
	job.Finished, job.Expires = now, now.Add(e.opt.Expiry)
	return j.flush(ctx, nil)
}

// scanType writes the current type's resources (or, in the deleted
// phase, its deletions) from where the cursor stands.
func (j *jobRun) scanType(ctx context.Context, filters []*concord.SearchQuery) error {
	prm := j.prm
	// The store as it was at the kick-off (the manifest's
	// transactionTime): what changes while the job runs is left to the
	// next export with _since.
	scan := concord.ResourceScan{Type: j.typ, After: j.cur.After, Filters: filters, PageSize: j.e.opt.PageSize,
		AsOf: j.job.TransactionTime}
	if !prm.Since.IsZero() {
		// Changed after _since (the store keeps microseconds).
		scan.Since = prm.Since.Add(time.Microsecond)
	}
	if prm.Level != levelSystem {
		params := fhir.CompartmentParams(fhir.CompartmentPatient, j.typ)
		scan.Compartment = &concord.ScanCompartment{OwnerType: "Patient", IDs: prm.Patients, Params: params}
	}
	if prm.Patients != nil && len(prm.Patients) == 0 {
		return nil // a Group without patients
	}
	if j.cur.Phase == phaseDeleted {
		// Deletions since _since. A deletion keeps no index: whether it
		// matched a _typeFilter cannot be told (such types list none),
		// and whether it was in the compartment is read from its last
		// version.
		if prm.Since.IsZero() || len(filters) > 0 {
			return nil
		}
		scan.Deleted, scan.Compartment = true, nil
		if prm.Level != levelSystem {
			return j.e.store.ScanResources(ctx, scan, func(r *concord.Resource) error {
				in, err := j.wasInCompartment(ctx, r)
				if err != nil || !in {
					return err
				}
				return j.add(r)
			})
		}
	}
	return j.e.store.ScanResources(ctx, scan, j.add)
}

// wasInCompartment reports whether a deleted resource was, before its
// deletion, in the compartment of one of the job's patients (of any
// patient when the job names none).
func (j *jobRun) wasInCompartment(ctx context.Context, r *concord.Resource) (bool, error) {
	if j.patients == nil && j.prm.Patients != nil {
		j.patients = map[string]bool{}
		for _, id := range j.prm.Patients {
			j.patients[id] = true
		}
	}
	in := func(id string) bool { return j.prm.Patients == nil || j.patients[id] }
	if r.Type == "Patient" {
		return in(r.ID), nil
	}
	if r.Version < 2 {
		return false, nil
	}
	prev, err := j.e.store.ResourceVersion(ctx, r.Type, r.ID, r.Version-1)
	if concord.ErrorCode(err) == concord.ENOTFOUND {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if prev.Deleted {
		return false, nil
	}
	doc, err := fhirpath.ParseJSON(prev.Content)
	if err != nil {
		return false, nil // not JSON: not in any compartment that can be told
	}
	idx, err := search.Index(ctx, doc)
	if err != nil {
		return false, err
	}
	params := fhir.CompartmentParams(fhir.CompartmentPatient, r.Type)
	for _, ref := range idx.Refs {
		if ref.Type == "Patient" && in(ref.ID) && slices.Contains(params, ref.Param) {
			return true, nil
		}
	}
	return false, nil
}

// add appends one resource to the current chunk as an NDJSON line, and
// stores the chunk when it is full or the lease wants renewing.
func (j *jobRun) add(r *concord.Resource) error {
	if j.n == 0 && (j.cur.File < 0 || j.cur.FileCount >= j.e.opt.FileResources) {
		// A new file starts at a chunk boundary: per type, and after
		// FileResources resources.
		j.cur.File, j.cur.FileCount = j.cur.Next, 0
		j.cur.Next++
	}
	line := r.Content
	if r.Deleted {
		// A transaction Bundle with the deletion (Bulk Data Access 2.0.0,
		// the manifest's deleted files).
		b, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction",
			"meta":  map[string]string{"lastUpdated": r.LastUpdated.UTC().Format("2006-01-02T15:04:05.000Z")},
			"entry": []map[string]any{{"request": map[string]string{"method": "DELETE", "url": r.Type + "/" + r.ID}}}})
		line = b
	} else if bytes.ContainsAny(line, "\r\n") {
		// Stored as written by a client: JSON whitespace may hold line
		// breaks, which NDJSON cannot.
		var c bytes.Buffer
		if err := json.Compact(&c, line); err != nil {
			j.problem(concord.SeverityError, fmt.Sprintf("%s/%s as stored is not JSON: %v", r.Type, r.ID, err))
			return nil
		}
		line = c.Bytes()
	}
	j.buf.Write(line)
	j.buf.WriteByte('\n')
	j.n++
	j.last = r.ID
	if j.buf.Len() >= j.e.opt.ChunkBytes || j.e.opt.Now().Sub(j.saved) > j.e.opt.Lease/4 {
		return j.flush(j.ctx, nil)
	}
	return nil
}

// problem adds an OperationOutcome line to the error file.
func (j *jobRun) problem(severity, msg string) {
	code := "processing"
	b, _ := json.Marshal(map[string]any{"resourceType": "OperationOutcome",
		"issue": []map[string]any{{"severity": severity, "code": code, "diagnostics": msg}}})
	j.errBuf.Write(b)
	j.errBuf.WriteByte('\n')
	j.errN++
}

// flush stores the buffered lines with the job's new cursor (moved on by
// advance, when given) and progress in one transaction, which also
// extends the lease: a restart resumes exactly after the last line
// stored.
func (j *jobRun) flush(ctx context.Context, advance func(*cursor)) error {
	if j.n == 0 && j.errN == 0 && advance != nil && j.e.opt.Now().Sub(j.saved) < j.e.opt.Lease/4 {
		// Nothing to store (an empty type): the cursor moves on in memory
		// and is saved with the next chunk; a restart before that only
		// scans a few empty types again.
		advance(&j.cur)
		return nil
	}
	next := j.cur
	if j.n > 0 {
		next.FileCount += j.n
		next.Done += j.n
		next.After = j.last
	}
	errFile := next.ErrFile
	if j.errN > 0 && errFile < 0 {
		errFile = next.Next
		next.ErrFile = errFile
		next.Next++
	}
	if advance != nil {
		advance(&next)
	}
	enc, _ := json.Marshal(next)
	job := *j.job
	job.Cursor = string(enc)
	if job.Status != concord.ExportCompleted {
		job.Progress = fmt.Sprintf("%d resources exported; at %s (type %d of %d)", next.Done, j.typ, min(next.Type+1, len(j.prm.Types)), len(j.prm.Types))
	}
	out := concord.ExportFile{Job: job.ID, No: j.cur.File, Type: j.typ, Kind: concord.ExportOutput}
	if j.cur.Phase == phaseDeleted {
		out.Type, out.Kind = "Bundle", concord.ExportDeletes
	}
	ef := concord.ExportFile{Job: job.ID, No: errFile, Type: "OperationOutcome", Kind: concord.ExportError}
	data, errData := j.buf.Bytes(), j.errBuf.Bytes()
	now := j.e.opt.Now()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := j.e.store.Update(ctx, func(tx concord.Tx) error {
		if err := tx.SaveExportJob(ctx, &job, j.e.opt.Node, now.Add(j.e.opt.Lease)); err != nil {
			return err
		}
		if len(data) > 0 {
			if err := tx.AppendExportChunk(ctx, out, data, j.n); err != nil {
				return err
			}
		}
		if len(errData) > 0 {
			return tx.AppendExportChunk(ctx, ef, errData, j.errN)
		}
		return nil
	})
	if concord.ErrorCode(err) == concord.ECONFLICT {
		return fmt.Errorf("%w: %v", errLost, err)
	}
	if err != nil {
		return err
	}
	j.cur, *j.job = next, job
	j.buf.Reset()
	j.errBuf.Reset()
	j.n, j.errN, j.saved = 0, 0, now
	return nil
}
