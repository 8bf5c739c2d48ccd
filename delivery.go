package concord

import "time"

// Delivery statuses: where a message stands with one destination.
const (
	DeliveryQueued = "queued" // waiting, or being retried
	DeliverySent   = "sent"   // the destination accepted it
	DeliveryDead   = "dead"   // given up: attempts exhausted or refused for good; an operator decides
)

// Delivery is one message on its way to one destination of its channel.
// Deliveries of a destination go out in ID order (FIFO): a delivery that
// is being retried holds back the ones behind it.
type Delivery struct {
	ID          int64     `json:"id"`
	MessageID   int64     `json:"message_id"`
	Channel     string    `json:"channel"`
	Destination string    `json:"destination"`
	Status      string    `json:"status"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt"`
	LastError   string    `json:"last_error,omitempty"`
	PartnerAck  string    `json:"partner_ack,omitempty"` // the destination's answer, as received
	CreatedAt   time.Time `json:"created_at"`
	SentAt      time.Time `json:"sent_at"`
	// Payload is what to send when the channel transformed the message;
	// nil sends the message as received.
	Payload []byte `json:"-"`
}

// DeliveryOutcome is what one attempt at a delivery came to.
type DeliveryOutcome struct {
	Status      string    // DeliveryQueued (retry at NextAttempt), DeliverySent or DeliveryDead
	NextAttempt time.Time // for DeliveryQueued
	Error       string
	PartnerAck  string
	At          time.Time
}
