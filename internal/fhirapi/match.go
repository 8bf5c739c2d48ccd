package fhirapi

import (
	"context"
	"net/url"

	"github.com/concord-health/concord"
)

// matchTx returns the ids of the current, non-deleted resources of typ
// that match the search q, as seen from inside tx (so that writes made
// earlier in the same transaction count). Conditional create, update,
// patch and delete, conditional references and searches inside a Bundle
// all go through it.
//
// It needs the search index, which this build does not have yet: until
// then it refuses, and everything that depends on it answers 501.
func (a *api) matchTx(ctx context.Context, tx concord.Tx, typ string, q url.Values) ([]string, error) {
	return nil, concord.Errorf(concord.EUNSUPPORTED, "conditional %s?%s needs search, which this build does not have yet", typ, q.Encode())
}
