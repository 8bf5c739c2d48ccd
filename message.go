package concord

import "time"

// Message statuses: what became of a received interface message.
const (
	// MessageReceived: stored and acknowledged; waiting for or done with
	// processing.
	MessageReceived = "received"
	// MessageErrored: stored, but the content breaks a rule (answered AE);
	// an operator can fix and reprocess it.
	MessageErrored = "errored"
	// MessageRejected: not an acceptable message at all (answered AR):
	// unparseable, unsupported type, version or processing ID.
	MessageRejected = "rejected"
	// MessageDuplicate: the same sender sent the same control ID within
	// the duplicate window; answered as the first one was, not processed.
	MessageDuplicate = "duplicate"
	// MessageFiltered: a channel filter dropped it.
	MessageFiltered = "filtered"
)

// Message is one interface message as received, with what Concord learnt
// of it and answered. Raw is kept byte for byte; retention may later drop
// it and keep the rest.
type Message struct {
	ID         int64     `json:"id"`
	Channel    string    `json:"channel"`
	Peer       string    `json:"peer"`   // network identity: address, or TLS certificate subject
	Sender     string    `json:"sender"` // MSH-3^MSH-4: sending application and facility
	ReceivedAt time.Time `json:"received_at"`
	Type       string    `json:"type"`    // MSH-9.1
	Trigger    string    `json:"trigger"` // MSH-9.2
	Structure  string    `json:"structure,omitempty"`
	ControlID  string    `json:"control_id"` // MSH-10
	Version    string    `json:"version,omitempty"`
	PatientID  string    `json:"patient_id,omitempty"` // PID-3.1 of the first identifier
	Status     string    `json:"status"`
	Error      string    `json:"error,omitempty"`
	AckCode    string    `json:"ack_code,omitempty"` // what Concord answered
	Size       int       `json:"size"`
	Raw        []byte    `json:"-"`
}

// MessageFilter selects messages; zero fields match everything.
type MessageFilter struct {
	Channel   string
	ControlID string
	Type      string
	Trigger   string
	Status    string
	PatientID string
	// Sender matches MSH-3^MSH-4 as stored, or MSH-3 alone.
	Sender string
	// Destination and DeliveryStatus select messages with a delivery to
	// that destination, or in that state (queued, sent, dead), or both.
	Destination    string
	DeliveryStatus string
	Since          time.Time // received at or after
	Until          time.Time // received before
	Limit          int       // at most this many, newest first; 0 means 100
	Offset         int
}

// ChannelCounts are the message counts of one channel by status.
type ChannelCounts struct {
	Received  int64 `json:"received"`
	Errored   int64 `json:"errored"`
	Rejected  int64 `json:"rejected"`
	Filtered  int64 `json:"filtered"`
	Duplicate int64 `json:"duplicate"`
}

// Channel states an operator can set.
const (
	ChannelStarted = "started" // receives and delivers
	ChannelPaused  = "paused"  // receives nothing; queued deliveries go on
	ChannelStopped = "stopped" // receives nothing, delivers nothing
)
