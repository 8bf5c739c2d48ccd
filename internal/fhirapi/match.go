package fhirapi

import (
	"context"
	"net/url"

	"github.com/concord-health/concord"
)

// maxConditionalMatches caps the ids a conditional search inside a
// Bundle returns.
const maxConditionalMatches = 1000

// matchTx returns the ids of the current, non-deleted resources of typ
// that match the search q, as seen from inside tx (so that writes made
// earlier in the same transaction count), holding the criteria's lock
// until tx ends (see conditionKey). Conditional create, update, patch and
// delete, conditional references and searches inside a Bundle all go
// through it.
func (a *api) matchTx(ctx context.Context, tx concord.Tx, typ string, q url.Values) ([]string, error) {
	if err := tx.LockKey(ctx, conditionKey(typ, q)); err != nil {
		return nil, err
	}
	return a.searchTx(ctx, tx, typ, q, maxConditionalMatches)
}
