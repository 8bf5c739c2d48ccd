package concord

import "time"

// SubscriptionState is what the store keeps beside a FHIR Subscription
// resource: on whose behalf it notifies (the principal that last wrote it,
// so a notification carries only what that caller may see) and where its
// notifications stand.
type SubscriptionState struct {
	ID string // the Subscription resource's id
	// Owner is the principal's actor (a token ID, or cli:user@host);
	// Role, Scopes and Patient are the principal's when it wrote the
	// Subscription.
	Owner   string
	Role    Role
	Scopes  []string
	Patient string
	// Events is the number of the newest event queued (events since the
	// subscription started); Delivered the newest one its endpoint took.
	Events    int64
	Delivered int64
	// Attempts counts the failed attempts at the event after Delivered;
	// Errors every failed attempt. FailingSince is when the current run of
	// failures began (zero when the last attempt succeeded); NextAttempt
	// when the next may be made; LastError says why the last one failed.
	Attempts     int
	Errors       int64
	FailingSince time.Time
	NextAttempt  time.Time
	LastError    string
	// Handshake says a handshake notification is owed (a topic-based
	// rest-hook subscription asked for: R5 Backport); Heartbeat is how
	// often a notification must go out when no event does (0: never);
	// LastSent is when the endpoint last took one.
	Handshake bool
	Heartbeat time.Duration
	LastSent  time.Time
	UpdatedAt time.Time
}

// SubscriptionEvent is one notification a Subscription owes its
// endpoint: the resource version that matched, numbered per subscription
// from 1 without gaps.
type SubscriptionEvent struct {
	Subscription string
	Number       int64
	Type, ID     string
	Version      int64
	Seq          int64 // the version's place in the change log
	At           time.Time
}

// SubscriptionAttempt is the outcome of an attempt to deliver the event
// after a subscription's Delivered, or (Number 0) a handshake or a
// heartbeat.
type SubscriptionAttempt struct {
	Number int64 // the event tried; 0 for a handshake or a heartbeat
	// Handshake: the attempt was the handshake, which is owed no more
	// whatever its outcome.
	Handshake bool
	At        time.Time
	// OK: the endpoint took it. Otherwise Error says why not and Next is
	// when to try again.
	OK    bool
	Error string
	Next  time.Time
}
