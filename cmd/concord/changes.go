package main

import (
	"context"
	"sync/atomic"

	"github.com/concord-health/concord"
)

// changeNotifier is the store as the FHIR API and the fhir destinations
// write to it: after each committed write it wakes this node's changes
// sources, so an order written here reaches its channel without waiting
// for the poll.
type changeNotifier struct {
	concord.Store
	wake atomic.Pointer[func()] // set once the engine exists
}

// setWake sets what a committed write calls.
func (s *changeNotifier) setWake(f func()) { s.wake.Store(&f) }

// Update runs fn in a write transaction, then wakes the changes sources.
func (s *changeNotifier) Update(ctx context.Context, fn func(concord.Tx) error) error {
	err := s.Store.Update(ctx, fn)
	if f := s.wake.Load(); err == nil && f != nil {
		(*f)()
	}
	return err
}
