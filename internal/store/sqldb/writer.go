package sqldb

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/concord-health/concord"
)

// maxBatch caps how many Update calls share one physical transaction.
const maxBatch = 256

// batchTimeout bounds one physical transaction, so that a stuck database
// cannot hold writers forever.
const batchTimeout = 30 * time.Second

// request is one Update call waiting for the writer.
type request struct {
	ctx  context.Context
	fn   func(concord.Tx) error
	err  error
	done chan struct{}
}

// writer owns the write transactions of a store. Update calls queue on reqs;
// the writer takes whatever has queued, runs the calls' functions in one
// transaction and commits once (group commit): many callers share one
// durable commit, and a failing function is rolled back without affecting
// the others (see run).
type writer struct {
	begin   func(context.Context) (TxConn, error)
	dialect Dialect

	mu     sync.RWMutex // guards closed against sends on reqs
	closed bool
	reqs   chan *request
	exited chan struct{}

	commits atomic.Int64
	writes  atomic.Int64

	// revoked, when set, is called after a transaction that revoked a
	// token is committed (or its commit failed): the store's token cache
	// forgets what it holds.
	revoked func()
}

func newWriter(begin func(context.Context) (TxConn, error), d Dialect) *writer {
	w := &writer{begin: begin, dialect: d, reqs: make(chan *request, maxBatch), exited: make(chan struct{})}
	go w.loop()
	return w
}

// update queues fn and waits until its transaction is committed or failed.
func (w *writer) update(ctx context.Context, fn func(concord.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &request{ctx: ctx, fn: fn, done: make(chan struct{})}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return concord.Errorf(concord.EUNAVAILABLE, "store is closed")
	}
	select {
	case w.reqs <- r:
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	w.mu.RUnlock()
	// Once queued, wait for the outcome even if ctx ends: the writer skips
	// requests whose context has ended before it runs them, and a request
	// that ran must report whether it was committed.
	<-r.done
	return r.err
}

// close stops accepting updates, finishes the queued ones and returns when
// the writer has exited.
func (w *writer) close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.reqs)
	}
	w.mu.Unlock()
	<-w.exited
}

func (w *writer) loop() {
	defer close(w.exited)
	batch := make([]*request, 0, maxBatch)
	for first := range w.reqs {
		batch = append(batch[:0], first)
		batch = w.fill(batch)
		batch = w.run(batch)
		for _, r := range batch {
			close(r.done)
		}
	}
}

// fill appends to batch the requests already queued, without waiting, up
// to maxBatch.
func (w *writer) fill(batch []*request) []*request {
	for len(batch) < maxBatch {
		select {
		case r, ok := <-w.reqs:
			if !ok {
				return batch
			}
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// run executes one batch and sets every request's err. It first runs all
// the functions in one transaction without savepoints (the common case:
// nothing fails); requests that queue while it runs join that transaction
// before it commits, so they share its commit instead of waiting for the
// next one. If a function fails, that transaction is rolled back, the
// failing request keeps its error, and the others run again in a new
// transaction, each inside a savepoint so that a further failure stays
// its own. This is why a function given to Update may run more than once.
// run returns the batch with the requests that joined it.
func (w *writer) run(batch []*request) []*request {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	live := make([]*request, 0, len(batch))
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
		} else {
			live = append(live, r)
		}
	}
	// more takes the requests that queued meanwhile into the batch and
	// returns the live ones.
	more := func() []*request {
		n := len(batch)
		batch = w.fill(batch)
		var add []*request
		for _, r := range batch[n:] {
			if err := r.ctx.Err(); err != nil {
				r.err = err
			} else {
				add = append(add, r)
			}
		}
		return add
	}
	if len(live) == 0 {
		return batch
	}
	live, failed := w.attempt(ctx, live, false, more)
	if failed == nil {
		return batch
	}
	rest := live[:0]
	for _, r := range live {
		if r != failed {
			r.err = nil
			rest = append(rest, r)
		}
	}
	if len(rest) > 0 {
		w.attempt(ctx, rest, true, nil)
	}
	return batch
}

// attempt runs reqs in one transaction and commits the ones that
// succeeded. Without savepoints it stops at the first failing function,
// rolls back and returns that request; with savepoints it rolls back only
// the failing functions and returns nil. Before committing, it runs the
// requests more returns (when more is not nil) in the same transaction,
// until more returns none; it returns reqs with them.
func (w *writer) attempt(ctx context.Context, reqs []*request, savepoints bool, more func() []*request) ([]*request, *request) {
	fail := func(err error) {
		for _, r := range reqs {
			if r.err == nil {
				r.err = err
			}
		}
	}
	tc, err := w.begin(ctx)
	if err != nil {
		fail(concord.WrapError(concord.EUNAVAILABLE, err, "store: begin transaction"))
		return reqs, nil
	}
	abort := func(err error, what string) ([]*request, *request) {
		tc.Rollback(ctx)
		fail(concord.WrapError(concord.EUNAVAILABLE, err, "store: %s", what))
		return reqs, nil
	}
	bc := newBatching(ctx, tc)
	tx := &sqlTx{ctx: ctx, q: bc, d: w.dialect, batch: bc}
	committed, yielded := 0, false
	for i := 0; ; i++ {
		if i == len(reqs) {
			if more == nil {
				break
			}
			add := more()
			if len(add) == 0 && !yielded {
				// Let callers that are about to queue (their goroutines
				// runnable) do so before this commit rather than after.
				yielded = true
				runtime.Gosched()
				add = more()
			}
			if len(add) == 0 {
				break
			}
			reqs = append(reqs, add...)
		}
		r := reqs[i]
		if !savepoints {
			if r.err = call(r.fn, tx); r.err == nil {
				r.err = bc.flush() // what fn queued fails as fn's
			}
			if r.err != nil {
				bc.discard()
				tc.Rollback(ctx)
				return reqs, r
			}
			committed++
			continue
		}
		if _, err := tc.Exec(ctx, "SAVEPOINT w"); err != nil {
			return abort(err, "savepoint")
		}
		saved := tx.chain
		if r.err = call(r.fn, tx); r.err == nil {
			r.err = bc.flush()
		}
		if r.err != nil {
			bc.discard()
			tx.chain = saved
			if _, err := tc.Exec(ctx, "ROLLBACK TO SAVEPOINT w"); err != nil {
				return abort(err, "rollback to savepoint")
			}
		} else {
			committed++
		}
		if _, err := tc.Exec(ctx, "RELEASE SAVEPOINT w"); err != nil {
			return abort(err, "release savepoint")
		}
	}
	if committed == 0 {
		tc.Rollback(ctx)
		return reqs, nil
	}
	if err := tx.flushHead(); err != nil {
		return abort(err, "audit chain head")
	}
	err = tc.Commit(ctx)
	if tx.revoked && w.revoked != nil {
		w.revoked()
	}
	if err != nil {
		fail(concord.WrapError(concord.EUNAVAILABLE, err, "store: commit"))
		return reqs, nil
	}
	w.commits.Add(1)
	w.writes.Add(int64(committed))
	return reqs, nil
}

// call runs fn, turning a panic into an EINTERNAL error so that one bad
// caller cannot take the writer down.
func call(fn func(concord.Tx) error, tx concord.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = concord.Errorf(concord.EINTERNAL, "store: update panicked: %v", p)
		}
	}()
	return fn(tx)
}
