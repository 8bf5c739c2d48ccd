// Package subscription serves FHIR R4 Subscriptions from the clinical
// store's change log. A Subscription written through /fhir is admitted
// (Manager.Admit, called by the FHIR API inside the write): its criteria
// and channel are checked, status requested becomes active, and the
// principal that wrote it is recorded, so that notifications carry only
// what that principal may see. A matcher follows the change log (a
// cursor and a lease, as the engine's changes sources do) and queues, in
// the transaction that moves its cursor, one numbered event per matching
// version per subscription. A deliverer sends each subscription's events
// to its rest-hook endpoint in order, retrying with backoff while the
// endpoint fails, with one node delivering a subscription at a time.
package subscription

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/fhirapi"
)

// Defaults.
const (
	defaultPoll     = 500 * time.Millisecond
	defaultTimeout  = 10 * time.Second
	defaultRetryMin = time.Minute
	defaultRetryMax = time.Hour
	defaultGiveUp   = 24 * time.Hour
	defaultWorkers  = 16

	leaseFor   = 30 * time.Second
	leaseRenew = 10 * time.Second
	leaseRetry = 5 * time.Second
	// matchBatch is how many changes are matched and committed together.
	matchBatch = 200
	// gapGrace is how long the matcher on PostgreSQL waits for a gap in
	// the change log to fill (see engine's changeGapGrace).
	gapGrace = 3 * time.Second
)

// Names in the store: the matcher's cursor in change_cursors and the
// leases in destination_leases (channel names cannot start with a colon).
const (
	cursorName   = ":subscriptions"
	leaseChannel = ":subscriptions"
	matchLease   = ":match"
)

// Actor is the actor of the audit records of what the subscription
// manager writes (status changes).
const Actor = "subscriptions"

// Options configure the manager.
type Options struct {
	// Store is where subscriptions, events and status changes are kept
	// (status changes are written through the FHIR API's importer over
	// it, as Subscription versions).
	Store  concord.Store
	Logger *slog.Logger
	// Node names this node in audit records and in leases.
	Node string
	// AllowPrivate lets endpoints be on loopback, private, link-local or
	// unspecified addresses (a hospital LAN); false refuses them when
	// dialling.
	AllowPrivate bool
	// Timeout bounds each notification request (connect, send, answer).
	Timeout time.Duration
	// RetryMin and RetryMax bound the wait between attempts at a failing
	// endpoint: RetryMin after the first failure, doubling up to
	// RetryMax.
	RetryMin, RetryMax time.Duration
	// GiveUp is how long a subscription's endpoint may keep failing before
	// the subscription is set to error and its deliveries stop (its
	// events stay queued until it is activated again).
	GiveUp time.Duration
	// Poll is how often the matcher looks at the change log and the
	// deliverer for due retries when nothing woke them.
	Poll time.Duration
	// SocketPing is how often websocket connections are pinged and their
	// caller's token checked (default 30 s); a connection is dropped
	// after two intervals without a frame from the client.
	SocketPing time.Duration
	// BindingTokenTTL is how long a token from $get-ws-binding-token
	// may be used (once; default 5 minutes).
	BindingTokenTTL time.Duration
	// BindWait is how long a connection to TokenWebsocketPath may take
	// to send its "bind-with-token" message (default 10 s).
	BindWait time.Duration
	// EventRetention is how long events the endpoint took stay listed by
	// $events (dated by the version that matched); 0 keeps them forever.
	// Events still to deliver are never dropped.
	EventRetention time.Duration
	// PruneEvery is how often old events are dropped (default hourly).
	PruneEvery time.Duration
	// Workers caps the subscriptions delivered to at once.
	Workers int
	// Now returns the time; time.Now when nil.
	Now func() time.Time
}

// Manager admits Subscriptions, matches changes and delivers
// notifications.
type Manager struct {
	opt      Options
	log      *slog.Logger
	importer *fhirapi.Importer
	metrics  *metrics
	owner    string // lease owner
	matchC   chan struct{}
	deliverC chan struct{}

	mu      sync.Mutex
	runCtx  context.Context      // set while Run runs
	events  chan struct{}        // closed (and replaced) when events are queued
	sockets int                  // websocket connections open
	running map[string]bool      // subscriptions being delivered by this node
	held    map[string]time.Time // their leases this node holds, until
	cache   *activeCache
	topics  *topicCache       // topics defined by clients
	gap     concord.ChangeGap // the change log gap the matcher waits on
}

// New returns a manager; Run starts its matcher and deliverer.
func New(opt Options) *Manager {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Timeout <= 0 {
		opt.Timeout = defaultTimeout
	}
	if opt.RetryMin <= 0 {
		opt.RetryMin = defaultRetryMin
	}
	if opt.RetryMax < opt.RetryMin {
		opt.RetryMax = max(defaultRetryMax, opt.RetryMin)
	}
	if opt.GiveUp <= 0 {
		opt.GiveUp = defaultGiveUp
	}
	if opt.Poll <= 0 {
		opt.Poll = defaultPoll
	}
	if opt.SocketPing <= 0 {
		opt.SocketPing = 30 * time.Second
	}
	if opt.BindingTokenTTL <= 0 {
		opt.BindingTokenTTL = 5 * time.Minute
	}
	if opt.BindWait <= 0 {
		opt.BindWait = 10 * time.Second
	}
	if opt.PruneEvery <= 0 {
		opt.PruneEvery = time.Hour
	}
	if opt.Workers <= 0 {
		opt.Workers = defaultWorkers
	}
	id, _ := concord.NewID(time.Now())
	m := &Manager{opt: opt, log: opt.Logger.With("part", "subscriptions"), owner: opt.Node + "/" + id, metrics: newMetrics(),
		matchC: make(chan struct{}, 1), deliverC: make(chan struct{}, 1), running: map[string]bool{},
		held: map[string]time.Time{}, events: make(chan struct{})}
	m.importer = fhirapi.NewImporter(opt.Store, fhirapi.Options{Subscriptions: m, Now: opt.Now})
	return m
}

// ChangesWritten tells the matcher that the change log has grown (a
// write committed on this node), so it reads it now instead of at its
// next poll.
func (m *Manager) ChangesWritten() { poke(m.matchC) }

// Run runs the matcher and the deliverer until ctx ends.
func (m *Manager) Run(ctx context.Context) {
	m.mu.Lock()
	m.runCtx = ctx
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.runCtx = nil
		m.mu.Unlock()
	}()
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); m.matchLoop(ctx) }()
	go func() { defer wg.Done(); m.deliverLoop(ctx) }()
	go func() { defer wg.Done(); m.pruneLoop(ctx) }()
	wg.Wait()
}

// pruneLoop drops, every PruneEvery, the delivered events older than
// EventRetention, a thousand per transaction (any node may: deleting
// twice is harmless).
func (m *Manager) pruneLoop(ctx context.Context) {
	if m.opt.EventRetention <= 0 {
		return
	}
	for {
		sleep(ctx, nil, m.opt.PruneEvery)
		if ctx.Err() != nil {
			return
		}
		cutoff := m.opt.Now().Add(-m.opt.EventRetention)
		total := 0
		for ctx.Err() == nil {
			var n int
			err := m.opt.Store.Update(ctx, func(tx concord.Tx) (err error) {
				n, err = tx.PruneSubscriptionEvents(ctx, cutoff, 1000)
				return err
			})
			if err != nil {
				m.log.Warn("pruning subscription events", "err", err)
				break
			}
			total += n
			if n < 1000 {
				break
			}
		}
		if total > 0 {
			m.log.Info("subscription events pruned", "events", total, "before", cutoff)
		}
	}
}

// eventsQueued wakes everything waiting for new events (websocket
// connections).
func (m *Manager) eventsQueued() {
	m.mu.Lock()
	close(m.events)
	m.events = make(chan struct{})
	m.mu.Unlock()
}

// eventsWait returns a channel closed when events are next queued.
func (m *Manager) eventsWait() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.events
}

// poke wakes the loop waiting on c, if it waits.
func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// sleep waits d, or until ctx ends or wake fires.
func sleep(ctx context.Context, wake <-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-wake:
	}
}

// lease claims (or renews) one of the manager's leases.
func (m *Manager) lease(ctx context.Context, dest string, now time.Time, until time.Time) (bool, error) {
	var ok bool
	err := m.opt.Store.Update(ctx, func(tx concord.Tx) error {
		var err error
		ok, err = tx.Lease(ctx, leaseChannel, dest, m.owner, now, until)
		return err
	})
	return ok, err
}

// release gives a lease up (until = now), so the next holder need not
// wait for it to expire.
func (m *Manager) release(ctx context.Context, dest string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	now := m.opt.Now()
	m.lease(rctx, dest, now, now)
}
