package concord

import "time"

// Resource is one version of a FHIR resource as the store keeps it: the
// clinical store's unit of storage. The store treats Content as opaque
// bytes; the FHIR layer sets meta.versionId and meta.lastUpdated in it.
type Resource struct {
	Type        string
	ID          string
	Version     int64     // meta.versionId: 1 for the first version, then 2, 3 …
	LastUpdated time.Time // meta.lastUpdated
	Deleted     bool      // this version is a deletion (a tombstone): no content
	Content     []byte    // the resource's JSON; nil for a deletion
	// Seq is the version's position in the store's change log, set when
	// it is stored: later writes have higher numbers.
	Seq int64
	// Index is what the version is found by in searches. PutResource
	// replaces the resource's index with it (nil leaves it unsearchable,
	// as a deletion is); reads leave it nil.
	Index *SearchIndex
}

// HistoryFilter selects resource versions for a history: of one resource
// (Type and ID), of a type (Type), or of everything.
type HistoryFilter struct {
	Type, ID string
	Since    time.Time // versions last updated at or after
	Before   int64     // versions with a Seq below this (paging); 0 means no bound
	Limit    int       // at most this many, newest first; 0 means 100
	// CurrentFrom and CurrentTo, when CurrentTo is set, keep the versions
	// that were current at some moment of [CurrentFrom, CurrentTo) (FHIR
	// history's _at): stored before CurrentTo, and not followed by a next
	// version (or deletion) stored at or before CurrentFrom.
	CurrentFrom, CurrentTo time.Time
}
