package main

import (
	"context"

	"github.com/concord-health/concord"
)

// changeNotifier is the store as the FHIR API writes to it: after each
// committed write it wakes this node's changes sources, so an order
// written here reaches its channel without waiting for the poll.
type changeNotifier struct {
	concord.Store
	wake func()
}

// Update runs fn in a write transaction, then wakes the changes sources.
func (s changeNotifier) Update(ctx context.Context, fn func(concord.Tx) error) error {
	err := s.Store.Update(ctx, fn)
	if err == nil {
		s.wake()
	}
	return err
}
