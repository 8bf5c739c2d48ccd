package concord

import (
	"context"
	"time"
)

// Store is the durable state of a Concord node: SQLite embedded, or
// PostgreSQL shared by several nodes. Both adapters pass one conformance
// suite (internal/store/storetest).
type Store interface {
	// Kind returns "sqlite" or "postgres".
	Kind() string

	// Update runs fn in a write transaction and commits it durably before
	// returning nil. If fn returns an error nothing it did is kept. The
	// transactions of concurrent callers are committed together (group
	// commit), so fn must be short and do only store work, and fn may be
	// called more than once: it must have no effect outside tx but to set
	// its own results.
	Update(ctx context.Context, fn func(Tx) error) error

	// Token returns the token with the given ID, or ENOTFOUND.
	Token(ctx context.Context, id string) (*Token, error)
	// Tokens returns every token, newest first.
	Tokens(ctx context.Context) ([]*Token, error)

	// AuditHead returns the head of the audit chain.
	AuditHead(ctx context.Context) (AuditHead, error)
	// AuditRecords calls fn for each record matching f, in sequence order.
	AuditRecords(ctx context.Context, f AuditFilter, fn func(*AuditRecord) error) error

	// Message returns the message with the given ID, raw bytes included,
	// or ENOTFOUND.
	Message(ctx context.Context, id int64) (*Message, error)
	// Messages returns the messages matching f, newest first, without raw
	// bytes, and how many match in all.
	Messages(ctx context.Context, f MessageFilter) ([]*Message, int64, error)
	// MessageCounts returns each channel's message counts by status.
	MessageCounts(ctx context.Context) (map[string]ChannelCounts, error)

	// NextDelivery returns the first queued delivery of a destination (the
	// head of its FIFO) with its message, or nil when the queue is empty.
	NextDelivery(ctx context.Context, channel, destination string) (*Delivery, *Message, error)
	// QueuedDeliveries returns up to limit queued deliveries of a
	// destination, oldest first (the head of its FIFO and those behind
	// it), without their messages; destinations that deliver several at
	// once read their window of work with it.
	QueuedDeliveries(ctx context.Context, channel, destination string, limit int) ([]*Delivery, error)
	// ChannelStates returns the states operators have set, by channel;
	// a channel not in it is started.
	ChannelStates(ctx context.Context) (map[string]string, error)
	// Deliveries returns the deliveries of a message, one per destination.
	Deliveries(ctx context.Context, messageID int64) ([]*Delivery, error)
	// DeliveryCounts returns the deliveries of each channel and
	// destination by status.
	DeliveryCounts(ctx context.Context) (map[string]map[string]map[string]int64, error)

	// Resource returns the current version of a resource (a deletion
	// included, with Deleted set), or ENOTFOUND when it never existed.
	Resource(ctx context.Context, typ, id string) (*Resource, error)
	// ResourceVersion returns one version of a resource, or ENOTFOUND.
	ResourceVersion(ctx context.Context, typ, id string, version int64) (*Resource, error)
	// ResourceHistory returns the versions matching f, newest first.
	ResourceHistory(ctx context.Context, f HistoryFilter) ([]*Resource, error)
	// Changes returns the change log after seq, oldest first: every
	// version stored, at most limit of them.
	Changes(ctx context.Context, after int64, limit int) ([]*Resource, error)
	// LastChange returns the seq of the newest entry of the change log, 0
	// when the store holds no resource version.
	LastChange(ctx context.Context) (int64, error)
	// Cursor returns where the change log reader name stands (the seq of
	// the last version it handled) and whether it has a cursor at all.
	Cursor(ctx context.Context, name string) (seq int64, found bool, err error)
	// Search returns a page of the current resources matching q, and how
	// many match in all when q.Total is set (-1 otherwise).
	Search(ctx context.Context, q *SearchQuery) ([]*Resource, int64, error)
	// Resources returns the current, not deleted, resources among refs.
	Resources(ctx context.Context, refs []Ref) ([]*Resource, error)
	// References returns the targets of the reference parameter param
	// (any when empty) of the resources of type typ with the given ids.
	References(ctx context.Context, typ, param string, ids []string) ([]Ref, error)
	// ReferencedBy returns the resources of type typ (any when empty)
	// whose reference parameter param (any when empty) points to one of
	// targets.
	ReferencedBy(ctx context.Context, typ, param string, targets []Ref) ([]Ref, error)

	// ResourceStamp returns the stamp of the resources of type typ (every
	// version, deletions included): compare two to learn cheaply whether
	// any was written in between.
	ResourceStamp(ctx context.Context, typ string) (ResourceStamp, error)

	// Subscription returns the state kept beside a Subscription, or
	// ENOTFOUND.
	Subscription(ctx context.Context, id string) (*SubscriptionState, error)
	// PendingSubscriptions returns the ids of the subscriptions with
	// something to send (events not yet delivered, a handshake, a
	// heartbeat due) whose next attempt is due by now.
	PendingSubscriptions(ctx context.Context, now time.Time, limit int) ([]string, error)
	// SubscriptionEvents returns the events of a subscription numbered
	// from first to last (both included; last 0: no bound), oldest first,
	// at most limit of them.
	SubscriptionEvents(ctx context.Context, id string, first, last int64, limit int) ([]*SubscriptionEvent, error)

	// UnmappedCodes returns the entries of the "needs mapping" report
	// matching f, most frequent first, and how many match in all.
	UnmappedCodes(ctx context.Context, f UnmappedFilter) ([]*UnmappedCode, int64, error)

	// ScanResources calls fn for each current, not deleted, resource that
	// f selects, in id order. It reads f.PageSize resources per query
	// (keyset paging on the id), so memory stays flat whatever the
	// number, and holds no query open while fn runs.
	ScanResources(ctx context.Context, f ResourceScan, fn func(*Resource) error) error

	// ExportJob returns a bulk export job (a deleted one included), or
	// ENOTFOUND.
	ExportJob(ctx context.Context, id string) (*ExportJob, error)
	// ExportJobWaiting reports whether Tx.ClaimExportJob would give owner
	// a job now: a read, so that idle workers poll without taking the
	// writer.
	ExportJobWaiting(ctx context.Context, owner string, now time.Time) (bool, error)
	// ActiveExportJobs counts the export jobs requester started that are
	// queued or running.
	ActiveExportJobs(ctx context.Context, requester string) (int, error)
	// ExportFiles returns the files of an export job in file order.
	ExportFiles(ctx context.Context, job string) ([]*ExportFile, error)
	// ExportChunk returns one chunk of an export file, or ENOTFOUND.
	ExportChunk(ctx context.Context, job string, file, chunk int) ([]byte, error)

	// Counts returns counts of what the store holds, for status pages.
	Counts(ctx context.Context) (StoreCounts, error)

	// Ready returns nil when the store is reachable and its schema is at the
	// version this build expects.
	Ready(ctx context.Context) error
	// Stats returns the state of the connection pools.
	Stats() StoreStats
	// Close waits for pending writes, then closes every connection.
	Close() error
}

// Tx is a write transaction. Its methods may be called only from the
// function given to Store.Update.
type Tx interface {
	// CreateToken stores a new token.
	CreateToken(ctx context.Context, t *Token) error
	// CurrentResource returns the current version of a resource, locked
	// until the transaction ends so that a concurrent writer waits, or nil
	// when it never existed.
	CurrentResource(ctx context.Context, typ, id string) (*Resource, error)
	// PutResource stores a new version of a resource and makes it the
	// current one, appending it to the change log (setting r.Seq). Its
	// Version must be one more than the current version's (1 for a new
	// resource); otherwise it fails with ECONFLICT. On a store that sends
	// statements in batches (PostgreSQL) a new resource's insert may
	// wait: r.Seq and that ECONFLICT then come by the end of the Update
	// function, or at Flush.
	PutResource(ctx context.Context, r *Resource) error
	// Flush sends what the transaction's earlier calls left waiting and
	// reports their errors (nothing to do on a store that runs each
	// statement at once). After such an error the function must fail:
	// statements sent with the failing one have run, and only the
	// function's failure undoes them.
	Flush(ctx context.Context) error
	// LockKey holds a lock on key until the transaction ends, so that
	// transactions that check and then act on the same condition (a
	// conditional create) run one after the other, on every node.
	LockKey(ctx context.Context, key string) error
	// SearchIDs returns the ids of at most limit current resources that
	// match q, as the transaction sees them (for conditional
	// interactions).
	SearchIDs(ctx context.Context, q *SearchQuery, limit int) ([]string, error)
	// RevokeToken marks a token revoked at the given time. It returns
	// ENOTFOUND for an unknown ID and ECONFLICT if already revoked.
	RevokeToken(ctx context.Context, id string, at time.Time) error
	// AppendAudit seals r onto the end of the audit chain and stores it; it
	// fills r.Seq, r.PrevHash and r.Hash.
	AppendAudit(ctx context.Context, r *AuditRecord) error
	// InsertMessage stores m and fills m.ID.
	InsertMessage(ctx context.Context, m *Message) error
	// Enqueue adds a delivery of message m to each destination, queued
	// for now, carrying payload (the transformed message; nil sends m as
	// received); call it in the transaction that stores m.
	Enqueue(ctx context.Context, m *Message, destinations []string, payload []byte, now time.Time) error
	// RecordAttempt stores the outcome of an attempt at delivery id.
	RecordAttempt(ctx context.Context, id int64, o DeliveryOutcome) error
	// RequeueDelivery puts delivery id back in its queue (from dead, or
	// queued and waiting) to be tried at the given time; ENOTFOUND for an
	// unknown id, ECONFLICT for a sent one.
	RequeueDelivery(ctx context.Context, id int64, at time.Time, note string) error
	// DiscardDeliveries gives up the queued deliveries of a message (they
	// become dead with the note) and returns how many there were.
	DiscardDeliveries(ctx context.Context, messageID int64, note string) (int, error)
	// Lease claims the destination for owner until the given time, if no
	// other owner holds an unexpired lease; it reports whether it did.
	// Only the lease holder delivers, so order holds across nodes.
	Lease(ctx context.Context, channel, destination, owner string, now, until time.Time) (bool, error)
	// MoveCursor moves the change log reader name's cursor from seq from
	// to seq to, in the transaction that stores what the reader produced
	// for the changes in between. A reader without a cursor is at 0. It
	// fails with ECONFLICT when the cursor is not at from (another node
	// moved it), so no change is handled twice.
	MoveCursor(ctx context.Context, name string, from, to int64, at time.Time) error
	// PutSubscription records who a Subscription notifies for (s.Owner,
	// Role, Scopes, Patient) and s.Handshake and s.Heartbeat, creating its
	// state or changing only those fields of an existing one; with reset,
	// it also clears the failure counters (a subscription activated
	// again) and starts the heartbeat's clock at at.
	PutSubscription(ctx context.Context, s *SubscriptionState, reset bool, at time.Time) error
	// SkipSubscriptionEvents marks every queued event of a subscription
	// delivered (a Subscription created anew under the id of a deleted
	// one starts without its backlog).
	SkipSubscriptionEvents(ctx context.Context, id string) error
	// AppendSubscriptionEvent queues e for its subscription (whose state
	// must exist) with the next event number, which it sets in e.Number.
	AppendSubscriptionEvent(ctx context.Context, e *SubscriptionEvent) error
	// RecordNotification stores the outcome of an attempt at the event
	// after the subscription's Delivered; ECONFLICT when that event is not
	// a.Number (another node delivered it). With a.Number 0 it records a
	// handshake or heartbeat.
	RecordNotification(ctx context.Context, id string, a SubscriptionAttempt) error
	// ParkSubscription stops the delivery of a subscription's events
	// until PutSubscription with reset (it is activated again): it is no
	// longer among the PendingSubscriptions. It does nothing when the
	// state changed since the caller read it (UpdatedAt is not seen).
	ParkSubscription(ctx context.Context, id string, seen, at time.Time) error
	// PruneSubscriptionEvents deletes up to limit events dated before
	// cutoff that their subscription's endpoint has taken (never one
	// still to deliver) and returns how many it deleted.
	PruneSubscriptionEvents(ctx context.Context, cutoff time.Time, limit int) (int, error)
	// SetChannelState records an operator's choice of a channel's state.
	SetChannelState(ctx context.Context, channel, state string, at time.Time, by string) error
	// PruneContent drops the raw content of up to limit messages received
	// before cutoff, except those with deliveries still queued, keeping
	// their metadata; it returns how many it pruned.
	PruneContent(ctx context.Context, cutoff time.Time, limit int) (int, error)
	// RecordUnmapped counts one more use of a code that could not be
	// mapped (c.Count more when above 1) at c.LastSeen (now when zero):
	// it adds the entry for c.Sender, c.System and c.Code or updates it
	// (count, last seen, display when given, places not yet listed), and
	// clears any earlier mapped mark: the code needed a mapping again.
	RecordUnmapped(ctx context.Context, c *UnmappedCode) error
	// SetCodeMapped marks a report entry mapped at the given time to
	// target ("system|code"), or, with a zero time, as needing a mapping
	// again. An unknown entry is not an error.
	SetCodeMapped(ctx context.Context, sender, system, code string, at time.Time, target string) error
	// CreateExportJob stores a new export job.
	CreateExportJob(ctx context.Context, j *ExportJob) error
	// ClaimExportJob gives owner the oldest queued export job, or a
	// running one whose lease expired before now (its node stopped) or
	// that owner itself held (it restarted), with a lease until the given
	// time; nil when there is none. Claims from several nodes never
	// return the same job. An owner runs one job at a time.
	ClaimExportJob(ctx context.Context, owner string, now, until time.Time) (*ExportJob, error)
	// SaveExportJob stores the status, progress, error, cursor and times
	// of a job owner is running, and extends its lease until the given
	// time. It fails with ECONFLICT when owner no longer holds the job
	// (its lease was taken over, or the job was deleted).
	SaveExportJob(ctx context.Context, j *ExportJob, owner string, until time.Time) error
	// AppendExportChunk appends data (whole NDJSON lines, count of them)
	// to file f.No of job f.Job, creating the file with f.Type and f.Error
	// at its first chunk.
	AppendExportChunk(ctx context.Context, f ExportFile, data []byte, count int64) error
	// DeleteExportJob marks a job deleted (cancelled); its files are
	// removed by SweepExportJobs. ENOTFOUND when there is no such job or
	// it is deleted already.
	DeleteExportJob(ctx context.Context, id string) error
	// SweepExportJobs marks deleted the finished jobs that expired before
	// now, then removes up to limit chunks of deleted jobs, and the jobs
	// (with their file rows) that have none left. It returns how many
	// rows it removed: call it again while that is not 0.
	SweepExportJobs(ctx context.Context, now time.Time, limit int) (int, error)
	// CreateBindingToken stores a websocket binding token (by its hash).
	CreateBindingToken(ctx context.Context, b *BindingToken) error
	// TakeBindingToken deletes the binding token with the given hash and
	// returns it: a token is used once. ENOTFOUND when there is none or it
	// expired before now. It also deletes expired tokens.
	TakeBindingToken(ctx context.Context, hash string, now time.Time) (*BindingToken, error)
	// RecentMessage returns the newest message of channel from sender with
	// controlID received at or after since and not rejected, or nil: the
	// duplicate check, inside the transaction that stores the new one.
	RecentMessage(ctx context.Context, channel, sender, controlID string, since time.Time) (*Message, error)
}

// StoreCounts are counts of what the store holds.
type StoreCounts struct {
	Tokens       int64 `json:"tokens"`
	Messages     int64 `json:"messages"`
	ActiveTokens int64 `json:"active_tokens"`
	AuditRecords int64 `json:"audit_records"`
}

// StoreStats describes the store's connection pools.
type StoreStats struct {
	MaxOpen      int   // connections allowed
	Open         int   // connections open
	InUse        int   // connections in use
	Idle         int   // connections idle
	WaitCount    int64 // waits for a connection, in total
	WaitDuration time.Duration
	Commits      int64 // physical write transactions committed
	Writes       int64 // logical write transactions (Update calls) committed
}
