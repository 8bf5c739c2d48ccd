package concord

import "time"

// UnmappedCode is one entry of the "needs mapping" report: a code a
// sender used that Concord could not map to a standard code system (no
// ConceptMap covered it), kept as given in the converted resources. The
// report counts it per sender, coding system and code.
type UnmappedCode struct {
	Sender string `json:"sender"` // MSH-3^MSH-4 of the messages that carried it
	// System is the coding system as the message named it (CWE-3, such
	// as "L" or "99LAB"), or a URI.
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"` // the latest non-empty text the sender gave
	// Where lists the places the code was seen in (such as "OBX-3"),
	// in the order first seen.
	Where     []string  `json:"where"`
	Count     int64     `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// MappedAt is when the report first found a mapping for the code
	// (zero while it has none); MappedTo names the target as
	// "system|code".
	MappedAt time.Time `json:"mapped_at,omitzero"`
	MappedTo string    `json:"mapped_to,omitempty"`
}

// UnmappedFilter selects entries of the "needs mapping" report.
type UnmappedFilter struct {
	// Sender matches MSH-3^MSH-4 as recorded, or MSH-3 alone; empty
	// matches every sender.
	Sender string
	// Mapped includes the codes that have been mapped since they were
	// recorded; without it only codes still needing a mapping are listed.
	Mapped bool
	Limit  int // at most this many, most frequent first; 0 means 100
	Offset int // entries to skip (paging)
}

// ResourceStamp summarises the stored versions of one resource type: it
// changes whenever a version of that type is stored, so a cache of those
// resources can tell cheaply whether it is still current.
type ResourceStamp struct {
	Versions int64 // how many versions are stored
	LastSeq  int64 // the highest change-log position among them
}
