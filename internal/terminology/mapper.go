package terminology

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/concord-health/concord"
)

// Store is what the mapper needs of the clinical store (concord.Store
// has it all).
type Store interface {
	ResourceStamp(ctx context.Context, typ string) (concord.ResourceStamp, error)
	Search(ctx context.Context, q *concord.SearchQuery) ([]*concord.Resource, int64, error)
	UnmappedCodes(ctx context.Context, f concord.UnmappedFilter) ([]*concord.UnmappedCode, int64, error)
	Update(ctx context.Context, fn func(concord.Tx) error) error
}

// Options configure a Mapper.
type Options struct {
	// MaxAge bounds how old the cached maps may be when Map answers:
	// older, Map checks the store's ConceptMap stamp first (one small
	// indexed query) and reloads the maps if any changed. Default 1s;
	// call Refresh for an exact answer (before converting a message).
	MaxAge time.Duration
	// Now returns the time; time.Now when nil.
	Now func() time.Time
}

// Mapper maps codes through the ConceptMaps operators keep in the store
// (/fhir/ConceptMap). It caches every map in memory, decoded once, and
// reloads them all when the store's stamp for ConceptMap changes (a
// version created, updated or deleted, on any node). It is safe for
// concurrent use; lookups never wait for a reload another goroutine is
// doing unless the mapper has no maps loaded yet.
type Mapper struct {
	store   Store
	opt     Options
	mu      sync.Mutex // held while checking and loading
	cur     atomic.Pointer[loaded]
	checked atomic.Int64 // when the stamp was last checked (Unix ns)
}

// loaded is the maps as of one stamp.
type loaded struct {
	stamp concord.ResourceStamp
	*snapshot
}

// NewMapper returns a mapper over store; it loads the maps on first use.
func NewMapper(store Store, opt Options) *Mapper {
	if opt.MaxAge <= 0 {
		opt.MaxAge = time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Mapper{store: store, opt: opt}
}

// Refresh checks the store's ConceptMap stamp and reloads the maps if any
// changed since the last load, so that a map written before the call
// applies to every lookup after it.
//
// Concurrent calls share a check: a call that waited for another's
// check to finish returns at once when that check began after the call
// did (it read a stamp at least as new as this call would).
func (m *Mapper) Refresh(ctx context.Context) error {
	called := m.opt.Now().UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur.Load() != nil && m.checked.Load() > called {
		return nil
	}
	return m.refreshLocked(ctx)
}

func (m *Mapper) refreshLocked(ctx context.Context) error {
	now := m.opt.Now()
	stamp, err := m.store.ResourceStamp(ctx, "ConceptMap")
	if err != nil {
		return err
	}
	if cur := m.cur.Load(); cur != nil && cur.stamp == stamp {
		m.checked.Store(now.UnixNano())
		return nil
	}
	// The stamp is read before the maps: a map written meanwhile changes
	// the stamp again, and the next check loads it.
	var maps []*parsedMap
	const page = 200
	for off := 0; ; off += page {
		rs, _, err := m.store.Search(ctx, &concord.SearchQuery{Type: "ConceptMap", Count: page, Offset: off})
		if err != nil {
			return err
		}
		for _, r := range rs {
			if pm := parseConceptMap(r.Content); pm != nil {
				if pm.updated.IsZero() {
					pm.updated = r.LastUpdated
				}
				maps = append(maps, pm)
			}
		}
		if len(rs) < page {
			break
		}
	}
	m.cur.Store(&loaded{stamp: stamp, snapshot: buildSnapshot(maps)})
	m.checked.Store(now.UnixNano())
	return nil
}

// snapshot returns the maps, checked against the store when older than
// MaxAge. Without maps yet it waits for the first load; a failed check
// keeps the maps it has (and an empty set when it has none).
func (m *Mapper) snapshot(ctx context.Context) *snapshot {
	cur := m.cur.Load()
	switch {
	case cur == nil:
		m.mu.Lock()
		if m.cur.Load() == nil {
			m.refreshLocked(ctx)
		}
		m.mu.Unlock()
	case m.opt.Now().UnixNano()-m.checked.Load() > int64(m.opt.MaxAge):
		if m.mu.TryLock() {
			m.refreshLocked(ctx)
			m.mu.Unlock()
		}
	default:
		return cur.snapshot
	}
	if cur = m.cur.Load(); cur == nil {
		return emptySnapshot
	}
	return cur.snapshot
}

var emptySnapshot = buildSnapshot(nil)

// Maps returns how many ConceptMaps the mapper holds (retired ones and
// those scoped to nobody left out).
func (m *Mapper) Maps(ctx context.Context) int {
	return m.snapshot(ctx).maps
}

// Map returns the standard coding of code in the coding system named
// system (a CWE-3 name such as "L", "99LAB" or "LN", or a URI; see
// SystemURI) as sent by sender (MSH-3^MSH-4), and whether there is one:
//
//   - a ConceptMap that applies to the sender (see SenderContextSystem)
//     and maps the code from the system's URI (group.source) with an
//     accepted equivalence gives its target (group.target and the
//     element's target code and display); the best equivalence wins,
//     then sender-scoped maps over unscoped ones, then the most recently
//     updated map; a group's unmapped setting (mode provided or fixed)
//     answers for codes it does not list;
//   - otherwise a code of a standard system is already standard: it is
//     returned under the system's URI (an HL7 table's code with its
//     display, and not ok when the table does not hold the code);
//   - otherwise (a local code nobody mapped) ok is false: the caller keeps
//     the code as given, under LocalSystem, and reports it.
func (m *Mapper) Map(ctx context.Context, sender, system, code string) (Coding, bool) {
	return m.snapshot(ctx).resolve(sender, system, code)
}

// resolve is Map over one snapshot.
func (s *snapshot) resolve(sender, system, code string) (Coding, bool) {
	code = strings.TrimSpace(code)
	if code == "" {
		return Coding{}, false
	}
	uri, local := SystemURI(sender, system)
	if c, ok := s.lookup(sender, uri, code); ok {
		if c.Display == "" {
			if t, ok := strings.CutPrefix(c.System, V2SystemPrefix); ok {
				c.Display, _ = V2Display(t, c.Code)
			}
		}
		return c, true
	}
	if local {
		return Coding{}, false
	}
	if t, ok := strings.CutPrefix(uri, V2SystemPrefix); ok && V2HasTable(t) {
		d, ok := V2Display(t, code)
		return Coding{System: uri, Code: code, Display: d}, ok
	}
	return Coding{System: uri, Code: code}, true
}

// Reconcile brings the "needs mapping" report up to date with the maps:
// it refreshes them, then marks mapped the report's entries (of sender,
// or all when empty) that map now, and marks again as needing a mapping
// those whose mapping went away. The admin API calls it before listing
// the report.
func (m *Mapper) Reconcile(ctx context.Context, sender string) error {
	if err := m.Refresh(ctx); err != nil {
		return err
	}
	s := m.snapshot(ctx)
	type change struct {
		sender, system, code, target string
		at                           time.Time
	}
	var changes []change
	now := m.opt.Now()
	const page = 500
	for off := 0; ; off += page {
		entries, _, err := m.store.UnmappedCodes(ctx, concord.UnmappedFilter{Sender: sender, Mapped: true, Limit: page, Offset: off})
		if err != nil {
			return err
		}
		for _, e := range entries {
			c, ok := s.resolve(e.Sender, e.System, e.Code)
			target := c.System + "|" + c.Code
			switch {
			case ok && (e.MappedAt.IsZero() || e.MappedTo != target):
				changes = append(changes, change{e.Sender, e.System, e.Code, target, now})
			case !ok && !e.MappedAt.IsZero():
				changes = append(changes, change{e.Sender, e.System, e.Code, "", time.Time{}})
			}
		}
		if len(entries) < page {
			break
		}
	}
	if len(changes) == 0 {
		return nil
	}
	return m.store.Update(ctx, func(tx concord.Tx) error {
		for _, c := range changes {
			if err := tx.SetCodeMapped(ctx, c.sender, c.system, c.code, c.at, c.target); err != nil {
				return err
			}
		}
		return nil
	})
}

// SystemURI is the package's SystemURI without the local flag, for
// callers that hold the mapper (the admin API shows operators the URI to
// map a reported code from).
func (m *Mapper) SystemURI(sender, system string) string {
	uri, _ := SystemURI(sender, system)
	return uri
}
