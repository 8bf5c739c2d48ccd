package sqldb

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/concord-health/concord"
)

// tokenTTL is how long a token read from the database is trusted
// without reading it again. Every guarded request looks its token up;
// reading it from the database was an eighth of the server's time when
// reading resources by id. A token revoked by another process (the
// concord CLI) or another node stops working within tokenTTL; one revoked
// through this store stops at once.
const tokenTTL = time.Second

// maxCachedTokens bounds the cache; when it is full it is emptied.
const maxCachedTokens = 10000

// tokenCache holds recently read tokens. Only tokens that exist are
// cached, so guessing identifiers cannot fill it.
type tokenCache struct {
	// gen counts revocations through this store: an entry read before
	// the latest one is not used, even if it was put after it.
	gen atomic.Uint64
	mu  sync.Mutex
	m   map[string]tokenEntry
}

type tokenEntry struct {
	tok concord.Token
	gen uint64
	at  time.Time
}

// get returns a copy of the cached token id, if it is fresh.
func (c *tokenCache) get(id string) (*concord.Token, bool) {
	gen := c.gen.Load()
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if !ok || e.gen != gen || time.Since(e.at) >= tokenTTL {
		return nil, false
	}
	t := e.tok
	t.Scopes = append([]string(nil), e.tok.Scopes...)
	return &t, true
}

// put caches t, read from the database when the generation was gen.
func (c *tokenCache) put(id string, t *concord.Token, gen uint64) {
	e := tokenEntry{tok: *t, gen: gen, at: time.Now()}
	e.tok.Scopes = append([]string(nil), t.Scopes...)
	c.mu.Lock()
	if len(c.m) >= maxCachedTokens {
		clear(c.m)
	}
	c.m[id] = e
	c.mu.Unlock()
}

// forgetAll drops every cached token (after a revocation).
func (c *tokenCache) forgetAll() {
	c.gen.Add(1)
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}
