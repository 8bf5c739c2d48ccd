package engine

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
	"github.com/concord-health/concord/mllp"
)

// storeTimeout bounds the wait for a received message to commit.
const storeTimeout = 30 * time.Second

// Inbound is one message as it arrived on a channel.
type Inbound struct {
	Channel string
	// Via names the kind of source: "mllp" (when empty), "http", "file"
	// or "channel"; the audit record's actor is Via:Peer unless By is set.
	Via     string
	Peer    string // network identity of the sender, file name, or channel
	Payload []byte
	// By, when set, is who submitted the message (an operator, or the
	// holder of an HTTP token): its audit record names them.
	By *concord.AuditRecord
	// Reprocess marks an operator running a stored message again: the
	// duplicate check is skipped.
	Reprocess bool

	appAck   []byte // an application acknowledgment to queue with the message
	appAckTo string // the destination that carries it
}

// Answer is what became of one inbound message.
type Answer struct {
	// Ack is the acknowledgment to send back, or nil when the sender
	// asked for none (enhanced mode).
	Ack []byte
	// Code is the outcome in original-mode terms (AA, AE or AR), whatever
	// the acknowledgment mode.
	Code hl7v2.AckCode
	// Issues are the problems the acknowledgment reports.
	Issues []hl7v2.Issue
	// Message is the message as stored; nil when it could not be stored.
	Message *concord.Message
}

// Receive handles one inbound message and returns the acknowledgment to
// send back, or nil when the sender asked for none (enhanced mode). A
// positive acknowledgment is returned only after the message and its audit
// record are committed. A message that cannot be stored is answered AE
// (CE in enhanced mode) with code 207 so the sender sends it again.
func (e *Engine) Receive(ctx context.Context, in Inbound) []byte {
	return e.Submit(ctx, in).Ack
}

// Submit is Receive, returning the whole answer, and counting the
// message in the channel's metrics.
func (e *Engine) Submit(ctx context.Context, in Inbound) Answer {
	start := time.Now()
	a := e.handle(ctx, in)
	if m := a.Message; m != nil && m.ID != 0 {
		e.metrics.received.WithLabelValues(in.Channel, m.Status).Inc()
		e.metrics.ackTime.WithLabelValues(in.Channel).Observe(time.Since(start).Seconds())
	}
	return a
}

// handle parses, checks and stores one inbound message and builds its
// acknowledgment.
func (e *Engine) handle(ctx context.Context, in Inbound) Answer {
	now := e.opt.Now()
	m := &concord.Message{
		Channel: in.Channel, Peer: in.Peer, ReceivedAt: now, Raw: in.Payload, Size: len(in.Payload),
	}
	msg, err := hl7v2.Parse(in.Payload)
	if err != nil {
		return e.reject(ctx, in, m, err)
	}
	m.Type, m.Trigger, m.Structure = msg.MessageType()
	m.ControlID = msg.ControlID()
	m.Version = msg.Version()
	app, fac := msg.Sender()
	m.Sender = app + "^" + fac
	m.PatientID = msg.Get("PID-3.1")

	issues := e.check(msg)
	code := ackCodeFor(issues)
	switch code {
	case hl7v2.AR:
		m.Status = concord.MessageRejected
	case hl7v2.AE:
		m.Status = concord.MessageErrored
	default:
		m.Status = concord.MessageReceived
	}
	if code != hl7v2.AA {
		m.Error = describe(issues)
	}
	var payloads [][]byte
	ch := e.channel(in.Channel)
	if ch != nil && m.Status == concord.MessageReceived {
		// A broken filter or transformer is Concord's problem, not the
		// sender's: keep the message for an operator and say so.
		broken := func(err error, what string) {
			m.Status, m.Error, code = concord.MessageErrored, err.Error(), hl7v2.AE
			issues = append(issues, hl7v2.Issue{Code: hl7v2.CodeApplicationError, Severity: hl7v2.SeverityError, Text: what})
		}
		if ch.Filter != nil {
			if pass, err := ch.Filter.Pass(ctx, msg); err != nil {
				broken(err, "channel filter failed")
			} else if !pass {
				m.Status = concord.MessageFiltered
			}
		}
		if ch.Transformer != nil && m.Status == concord.MessageReceived {
			var err error
			if payloads, err = ch.Transformer.Apply(ctx, msg); err != nil {
				broken(err, "channel transformer failed")
			}
		}
	}
	m.AckCode = string(code)

	dedupe := m.Status != concord.MessageRejected && m.ControlID != "" && !in.Reprocess
	if in.appAck = e.appAckAtReceipt(ch, msg, m, code, issues); in.appAck != nil {
		in.appAckTo = ch.AppAck.Name
	}
	dup, err := e.store(ctx, in, m, dedupe, payloads)
	if err != nil {
		e.opt.Logger.Error("message not stored", "channel", m.Channel, "control_id", m.ControlID, "err", err)
		fail := []hl7v2.Issue{{Code: hl7v2.CodeApplicationError, Severity: hl7v2.SeverityError, Text: "message not stored: send it again"}}
		return Answer{Ack: e.ack(msg, hl7v2.AE, fail), Code: hl7v2.AE, Issues: fail}
	}
	queued := m
	if dup != nil {
		// Answer as the first one was answered; do not process again.
		code = hl7v2.AckCode(dup.AckCode)
		issues = nil
		queued = dup
	}
	// An enhanced-mode sender of a channel that sends application
	// acknowledgments hears of the destinations that way, not by waiting.
	appAcked := ch != nil && ch.AppAck != nil && msg.EnhancedMode()
	if ch != nil && ch.RespondAfterDestinations && !appAcked && code == hl7v2.AA && queued.Status == concord.MessageReceived {
		// The sender hears how the destinations took it. A repeated
		// message waits on the first one's deliveries.
		code, issues = e.awaitDestinations(ctx, queued.ID, ch.RespondTimeout)
	}
	return Answer{Ack: e.ack(msg, code, issues), Code: code, Issues: issues, Message: m}
}

// check returns the issues of a parsed message.
func (e *Engine) check(msg *hl7v2.Message) []hl7v2.Issue {
	if e.opt.Validate != nil {
		return e.opt.Validate(msg)
	}
	if msg.ControlID() == "" {
		return []hl7v2.Issue{{Location: hl7v2.Location{Segment: "MSH", Seq: 1, Field: 10}, Code: hl7v2.CodeRequiredFieldMissing,
			Severity: hl7v2.SeverityError, Text: "MSH-10 (message control ID) is required"}}
	}
	return nil
}

// ackCodeFor maps issues to AA, AE or AR (hl7v2.AckCodeFor); an issue
// without a severity counts as an error.
func ackCodeFor(issues []hl7v2.Issue) hl7v2.AckCode {
	for i := range issues {
		if issues[i].Severity == "" {
			issues[i].Severity = hl7v2.SeverityError
		}
	}
	return hl7v2.AckCodeFor(issues)
}

// describe summarises issues for the message store.
func describe(issues []hl7v2.Issue) string {
	s := ""
	for i, is := range issues {
		if i > 0 {
			s += "; "
		}
		loc := is.Location.Segment
		if is.Location.Field > 0 {
			loc += "-" + strconv.Itoa(is.Location.Field)
		}
		s += fmt.Sprintf("%s %d %s", loc, is.Code, is.Text)
		if len(s) > 1000 {
			return s[:1000]
		}
	}
	return s
}

// store commits m and its audit record. With dedupe, a message with the
// same sender and control ID received within the duplicate window makes
// m a duplicate of it, which is returned.
func (e *Engine) store(ctx context.Context, in Inbound, m *concord.Message, dedupe bool, payloads [][]byte) (*concord.Message, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	status := m.Status
	dests := e.destinations(m.Channel)
	var dup *concord.Message
	err := e.opt.Store.Update(ctx, func(tx concord.Tx) error {
		m.Status, dup = status, nil // this function may run more than once
		if dedupe && e.opt.DuplicateWindow > 0 {
			prev, err := tx.RecentMessage(ctx, m.Channel, m.Sender, m.ControlID, m.ReceivedAt.Add(-e.opt.DuplicateWindow))
			if err != nil {
				return err
			}
			if prev != nil {
				dup = prev
				m.Status = concord.MessageDuplicate
			}
		}
		if err := tx.InsertMessage(ctx, m); err != nil {
			return err
		}
		if m.Status == concord.MessageReceived && len(dests) > 0 {
			if len(payloads) == 0 {
				payloads = [][]byte{nil} // the message as received
			}
			for _, p := range payloads { // in order: the parts of a split message
				if err := tx.Enqueue(ctx, m, dests, p, m.ReceivedAt); err != nil {
					return err
				}
			}
		}
		if in.appAck != nil && m.Status != concord.MessageDuplicate {
			if err := tx.Enqueue(ctx, m, []string{in.appAckTo}, in.appAck, m.ReceivedAt); err != nil {
				return err
			}
		}
		via := in.Via
		if via == "" {
			via = "mllp"
		}
		rec := concord.AuditRecord{Actor: via + ":" + m.Peer, Role: string(concord.RoleIntegration), Address: m.Peer, Node: e.opt.Node}
		if in.By != nil {
			rec = *in.By
		}
		rec.Time, rec.Action, rec.Object, rec.Patient = m.ReceivedAt, concord.AuditCreate, "message/"+strconv.FormatInt(m.ID, 10), m.PatientID
		rec.Outcome = outcomeOf(m.Status)
		rec.Detail = fmt.Sprintf("channel %s: %s^%s %s %s", m.Channel, m.Type, m.Trigger, m.ControlID, m.Status)
		if in.Reprocess {
			rec.Detail = "reprocessed: " + rec.Detail
		}
		return tx.AppendAudit(ctx, &rec)
	})
	if dup != nil {
		m.AckCode = dup.AckCode
	}
	if err == nil && m.Status == concord.MessageReceived {
		e.notify(m.Channel, dests)
	}
	if err == nil && in.appAck != nil && m.Status != concord.MessageDuplicate {
		e.notify(m.Channel, []string{in.appAckTo})
	}
	return dup, err
}

func outcomeOf(status string) concord.Outcome {
	switch status {
	case concord.MessageRejected, concord.MessageErrored:
		return concord.OutcomeMinor
	}
	return concord.OutcomeSuccess
}

// reject stores bytes that are not a message and answers AR with the
// parse error.
func (e *Engine) reject(ctx context.Context, in Inbound, m *concord.Message, perr error) Answer {
	m.Status = concord.MessageRejected
	m.Error = perr.Error()
	m.AckCode = string(hl7v2.AR)
	m.ControlID = mllp.ControlID(m.Raw)
	code := hl7v2.CodeSegmentSequence
	issue := hl7v2.Issue{Code: code, Severity: hl7v2.SeverityError, Text: perr.Error()}
	if pe, ok := perr.(*hl7v2.ParseError); ok {
		issue.Code = pe.Code
		issue.Text = pe.Reason
		if pe.Segment > 0 {
			issue.Location = hl7v2.Location{Segment: "MSH", Seq: pe.Segment}
		}
	}
	if _, err := e.store(ctx, in, m, false, nil); err != nil {
		e.opt.Logger.Error("rejected input not stored", "channel", m.Channel, "peer", m.Peer, "err", err)
		issue = hl7v2.Issue{Code: hl7v2.CodeApplicationError, Severity: hl7v2.SeverityError, Text: "message not stored: send it again"}
		return Answer{Ack: e.bareAck(hl7v2.AE, m.ControlID, issue), Code: hl7v2.AE, Issues: []hl7v2.Issue{issue}}
	}
	return Answer{Ack: e.bareAck(hl7v2.AR, m.ControlID, issue), Code: hl7v2.AR, Issues: []hl7v2.Issue{issue}, Message: m}
}

// ack builds the acknowledgment of a parsed message, following its
// acknowledgment mode. In enhanced mode it is a commit acknowledgment
// (CA, CE, CR), sent or not as MSH-15 asks.
func (e *Engine) ack(msg *hl7v2.Message, code hl7v2.AckCode, issues []hl7v2.Issue) []byte {
	if msg.EnhancedMode() {
		commit := map[hl7v2.AckCode]hl7v2.AckCode{hl7v2.AA: hl7v2.CA, hl7v2.AE: hl7v2.CE, hl7v2.AR: hl7v2.CR}[code]
		switch msg.AcceptAckType() {
		case "NE":
			return nil
		case "ER":
			if commit == hl7v2.CA {
				return nil
			}
		case "SU":
			if commit != hl7v2.CA {
				return nil
			}
		}
		code = commit
	}
	return msg.AppendAck(nil, code, issues, hl7v2.AckOptions{
		ControlID: e.ackControlID(), Time: e.opt.Now(), Application: "Concord", Facility: e.opt.Node,
	})
}

// bareAck builds an acknowledgment for input that did not parse, with
// default delimiters and what little is known of the original.
func (e *Engine) bareAck(code hl7v2.AckCode, controlID string, issue hl7v2.Issue) []byte {
	a, _ := hl7v2.New(hl7v2.DefaultDelimiters)
	a.Set("MSH-3", "Concord")
	a.Set("MSH-4", e.opt.Node)
	a.Set("MSH-7", hl7v2.FormatTime(e.opt.Now(), hl7v2.PrecisionSecond, true))
	a.SetRaw("MSH-9", []byte("ACK"))
	a.Set("MSH-10", e.ackControlID())
	a.Set("MSH-11", "P")
	a.Set("MSH-12", "2.5.1")
	a.AppendSegment("MSA|" + string(code) + "|" + string(hl7v2.Escape(nil, controlID, &hl7v2.DefaultDelimiters)))
	text := string(hl7v2.Escape(nil, Truncate(issue.Text, 200), &hl7v2.DefaultDelimiters))
	a.AppendSegment("ERR||" + locationOf(issue.Location) + "|" + strconv.Itoa(int(issue.Code)) + "^" +
		string(hl7v2.Escape(nil, issue.Code.Text(), &hl7v2.DefaultDelimiters)) + "^HL70357|E||||" + text)
	return a.Bytes()
}

func locationOf(l hl7v2.Location) string {
	if l.Segment == "" {
		return ""
	}
	return l.Segment + "^" + strconv.Itoa(max(l.Seq, 1))
}

// Truncate shortens s to at most n bytes without splitting a character.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
