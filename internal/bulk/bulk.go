// Package bulk is FHIR Bulk Data export (Bulk Data Access IG 2.0.0,
// $export): the kick-off at system, Patient and Group level, the status
// endpoint with the completion manifest, cancellation, the output files,
// and the worker that writes them. Jobs, their cursors and their files
// live in the store (export_jobs, export_files, export_chunks), so any
// node sharing a PostgreSQL database serves them, a restart resumes a
// running job where its last chunk ended, and expired jobs are swept.
package bulk

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/fhirapi"
)

// CapabilityStatement is the Bulk Data Access IG's CapabilityStatement,
// which a server serving these routes instantiates.
const CapabilityStatement = "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"

// Operations is the system-level export with its OperationDefinition,
// for the server's CapabilityStatement.
var Operations = []fhirapi.Operation{
	{Name: "export", Definition: "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"},
}

// TypeOperations are the Patient- and Group-level exports, for the
// server's CapabilityStatement.
var TypeOperations = map[string][]fhirapi.Operation{
	"Patient": {{Name: "export", Definition: "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"}},
	"Group":   {{Name: "export", Definition: "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"}},
}

// Router is where the export registers its routes; the HTTP server
// authenticates and guards each with the declared access.
type Router interface {
	Handle(pattern string, access concord.Access, h http.Handler)
}

// Options configure the exporter.
type Options struct {
	// Expiry is how long a finished job and its files are kept (24h when
	// 0).
	Expiry time.Duration
	// Node names the worker's leases (this node's name); "bulk" when
	// empty. A node that restarts takes up its own running job at once.
	Node string
	// Now returns the time; time.Now when nil.
	Now func() time.Time
	// Logger gets the worker's failures; slog.Default when nil.
	Logger *slog.Logger
	// Poll is how often an idle worker looks for jobs other nodes
	// accepted (2s when 0); jobs accepted here wake it at once.
	Poll time.Duration
	// SweepEvery is how often expired and cancelled jobs are removed (1m
	// when 0).
	SweepEvery time.Duration
	// Lease is how long a worker holds a job between saves (2m when 0):
	// after it, another node takes the job over.
	Lease time.Duration
	// ChunkBytes is the size at which a file's chunk is stored (1 MiB
	// when 0).
	ChunkBytes int
	// FileResources is the number of resources after which a type's
	// output goes on in a new file (100,000 when 0).
	FileResources int64
	// PageSize is the number of resources a scan reads per query (500
	// when 0).
	PageSize int
}

// Exporter serves the $export routes and runs export jobs.
type Exporter struct {
	store concord.Store
	opt   Options
	wake  chan struct{}
}

// New returns an exporter over store.
func New(store concord.Store, opt Options) *Exporter {
	if opt.Expiry <= 0 {
		opt.Expiry = 24 * time.Hour
	}
	if opt.Node == "" {
		opt.Node = "bulk"
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Poll <= 0 {
		opt.Poll = 2 * time.Second
	}
	if opt.SweepEvery <= 0 {
		opt.SweepEvery = time.Minute
	}
	if opt.Lease <= 0 {
		opt.Lease = 2 * time.Minute
	}
	if opt.ChunkBytes <= 0 {
		opt.ChunkBytes = 1 << 20
	}
	if opt.FileResources <= 0 {
		opt.FileResources = 100_000
	}
	if opt.PageSize <= 0 {
		opt.PageSize = 500
	}
	return &Exporter{store: store, opt: opt, wake: make(chan struct{}, 1)}
}

// Register adds the export routes to r. Every route needs an
// authenticated caller; the kick-off authorises each exported type
// itself (a read and search scope on it, without patient context), and
// a job's status, files and cancellation answer only the caller that
// started it. Routes that change state or stream files audit every
// outcome themselves.
func (e *Exporter) Register(r Router) {
	kick := concord.Access{AnyCaller: true, Object: "fhir/$export"}
	for _, m := range []string{"GET", "POST"} {
		r.Handle(m+" /fhir/$export", kick, e.kickoff(levelSystem))
		r.Handle(m+" /fhir/Patient/$export", kick, e.kickoff(levelPatient))
		r.Handle(m+" /fhir/Group/{id}/$export", kick, e.kickoff(levelGroup))
	}
	r.Handle("GET /fhir/$export-status/{job}", concord.Access{AnyCaller: true, Audit: concord.AuditRead, Object: "fhir/$export-status"},
		http.HandlerFunc(e.status))
	r.Handle("DELETE /fhir/$export-status/{job}", concord.Access{AnyCaller: true, Object: "fhir/$export-status"},
		http.HandlerFunc(e.cancel))
	r.Handle("GET /fhir/$export-file/{job}/{file}", concord.Access{AnyCaller: true, Object: "fhir/$export-file"},
		http.HandlerFunc(e.download))
}

// baseURL is the server's FHIR base as the client reached it.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/fhir"
}

// routePath is the path of the matched route pattern: what was asked
// for, without the identifiers the concrete path holds.
func routePath(r *http.Request) string {
	p := r.Pattern
	if i := strings.IndexByte(p, ' '); i >= 0 {
		p = p[i+1:]
	}
	return p
}

// record returns the request's audit record for action on object with
// the answer's status.
func (e *Exporter) record(r *http.Request, action, object string, status int, note string) concord.AuditRecord {
	rec := concord.AuditTemplateFrom(r.Context())
	rec.Time = e.opt.Now()
	rec.Action = action
	rec.Object = object
	rec.Outcome = concord.HTTPOutcome(status)
	rec.Detail = fmt.Sprintf("%s %s %d", r.Method, routePath(r), status)
	if note != "" {
		rec.Detail += ": " + note
	}
	return rec
}

// appendAudit writes one audit record in its own transaction.
func (e *Exporter) appendAudit(ctx context.Context, rec concord.AuditRecord) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return e.store.Update(ctx, func(tx concord.Tx) error {
		r := rec // Update may run this more than once
		return tx.AppendAudit(ctx, &r)
	})
}
