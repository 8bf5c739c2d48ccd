package engine

import (
	"context"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

// Application acknowledgments (HL7 v2.5.1 section 2.9.3, enhanced mode):
// a sender that values MSH-16 gets the accept acknowledgment (CA, CE, CR)
// on its connection at commit, and later an application acknowledgment
// (AA, AE, AR) as a message of its own, sent to the channel's
// application_ack destination through a durable queue like any other.
// MSH-16 AL asks for it always, ER only when the message was not
// processed successfully, SU only when it was, NE never. It is decided
// at receipt for a message that goes to no destination (refused, filtered,
// or a channel without destinations), else once every destination has
// taken the message or given it up.

// wantsAppAck reports whether msg asks for an application acknowledgment
// with this code.
func wantsAppAck(msg *hl7v2.Message, code hl7v2.AckCode) bool {
	switch msg.ApplicationAckType() {
	case "AL":
		return true
	case "ER":
		return code != hl7v2.AA
	case "SU":
		return code == hl7v2.AA
	}
	return false
}

// appAck builds the application acknowledgment of msg. It asks the
// original sender for an accept acknowledgment (MSH-15 AL), which tells
// the queue it arrived, and for no application acknowledgment of its own.
func (e *Engine) appAck(msg *hl7v2.Message, code hl7v2.AckCode, issues []hl7v2.Issue) []byte {
	a := msg.Ack(code, issues, hl7v2.AckOptions{
		ControlID: e.ackControlID(), Time: e.opt.Now(), Application: "Concord", Facility: e.opt.Node,
	})
	a.Set("MSH-15", "AL")
	a.Set("MSH-16", "NE")
	return a.Bytes()
}

// appAckAtReceipt returns the application acknowledgment to queue with a
// message being stored, when it is decided now: the channel sends them,
// the sender asked for one with this outcome, and the message goes to no
// destination. nil otherwise.
func (e *Engine) appAckAtReceipt(ch *Channel, msg *hl7v2.Message, m *concord.Message, code hl7v2.AckCode, issues []hl7v2.Issue) []byte {
	if ch == nil || ch.AppAck == nil || !msg.EnhancedMode() {
		return nil
	}
	if m.Status == concord.MessageReceived && len(ch.Destinations) > 0 {
		return nil // decided when the destinations finish
	}
	if !wantsAppAck(msg, code) {
		return nil
	}
	return e.appAck(msg, code, issues)
}

// afterDestinations queues the application acknowledgment of a message
// once each of its deliveries is sent or dead, if its channel sends them
// and the sender asked for one. The dispatcher calls it after recording
// a final outcome. On one node the check and the enqueue are serialised;
// two nodes finishing a message's last two deliveries at the same moment
// could both queue one (PostgreSQL only).
func (e *Engine) afterDestinations(ctx context.Context, ch *Channel, id int64) {
	if ch.AppAck == nil {
		return
	}
	e.appAckMu.Lock()
	defer e.appAckMu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	log := e.opt.Logger.With("channel", ch.Name, "message_id", id)
	ds, err := e.opt.Store.Deliveries(ctx, id)
	if err != nil {
		log.Warn("application acknowledgment: reading deliveries", "err", err)
		return
	}
	var own []*concord.Delivery
	for _, d := range ds {
		if d.Destination == ch.AppAck.Name {
			return // already queued
		}
		if d.Status == concord.DeliveryQueued {
			return // not finished
		}
		own = append(own, d)
	}
	m, err := e.opt.Store.Message(ctx, id)
	if err != nil || len(m.Raw) == 0 {
		log.Warn("application acknowledgment: message not readable", "err", err)
		return
	}
	msg, err := hl7v2.Parse(m.Raw)
	if err != nil || !msg.EnhancedMode() {
		return
	}
	code, issues := destinationAnswer(id, own, 0)
	if !wantsAppAck(msg, code) {
		return
	}
	ack := e.appAck(msg, code, issues)
	now := e.opt.Now()
	err = e.opt.Store.Update(ctx, func(tx concord.Tx) error {
		return tx.Enqueue(ctx, m, []string{ch.AppAck.Name}, ack, now)
	})
	if err != nil {
		log.Error("application acknowledgment not queued", "err", err)
		return
	}
	e.notify(ch.Name, []string{ch.AppAck.Name})
}
