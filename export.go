package concord

import "time"

// The states of a bulk data export job (FHIR Bulk Data Access $export).
const (
	ExportQueued    = "queued"    // accepted, waiting for a worker
	ExportRunning   = "running"   // a worker holds its lease and writes its files
	ExportCompleted = "completed" // every file written: the manifest can be read
	ExportFailed    = "failed"    // stopped with Error set
	// ExportDeleted jobs were cancelled by their requester or expired:
	// they are gone for clients, and the sweep removes their files.
	ExportDeleted = "deleted"
)

// ExportJob is one bulk data export: who asked for it, what was asked,
// and where it stands. The store keeps Params and Cursor as the exporter
// wrote them.
type ExportJob struct {
	ID        string
	Requester string // the Actor of the principal that started it
	Request   string // the kick-off request URL
	Params    string // the parsed request (the exporter's JSON)
	Status    string // an Export* state
	Progress  string // for X-Progress while it runs
	Error     string // why it failed
	// Cursor is where a running job stands (the exporter's JSON), saved
	// with each chunk it writes, so that a job interrupted by a restart
	// resumes there.
	Cursor          string
	TransactionTime time.Time // the store's state it exports
	Created         time.Time
	Finished        time.Time // zero until completed or failed
	Expires         time.Time // a finished job and its files are deleted after this
}

// Kinds of export files, as the completion manifest lists them.
const (
	ExportOutput  = "output"  // resources of one type
	ExportError   = "error"   // OperationOutcomes
	ExportDeletes = "deleted" // transaction Bundles of DELETEs: what was deleted since _since
)

// ExportFile is one file of an export: NDJSON lines of one Type, of one
// Kind, stored in chunks of whole lines.
type ExportFile struct {
	Job    string
	No     int // 0, 1, 2 … within the job
	Type   string
	Kind   string // an Export* file kind; ExportOutput when empty
	Count  int64  // lines (resources)
	Bytes  int64
	Chunks int
}

// ResourceScan selects the current, not deleted, resources of one type
// for reading in id order, a page at a time (bulk export).
type ResourceScan struct {
	Type  string
	After string    // only ids after this one (keyset paging); "" from the start
	Since time.Time // only resources last updated at or after; zero for all
	// Compartment, when set, keeps the resources in the compartment of
	// its owners.
	Compartment *ScanCompartment
	// Filters, when set, keep the resources matching at least one of
	// them (searches on Type; only their Where clauses count).
	Filters []*SearchQuery
	// Deleted scans the deletions (tombstones) instead of the resources;
	// a deletion has no index, so Compartment and Filters select none.
	Deleted bool
	// AsOf, when set, reads the store as it was then: a resource changed
	// later is read in its version current at AsOf (left out when it did
	// not exist then, or was deleted, or, for Deleted, was not deleted
	// then). Compartment and Filters are checked on the current index.
	AsOf time.Time
	// PageSize is how many resources each query reads; 0 means 1000.
	PageSize int
}

// ScanCompartment is a compartment of several owners of one type: the
// resources whose reference parameters Params point to one of IDs (to
// any resource of OwnerType when IDs is empty), and those owners
// themselves when they are of the scanned type.
type ScanCompartment struct {
	OwnerType string
	IDs       []string
	Params    []string
}
