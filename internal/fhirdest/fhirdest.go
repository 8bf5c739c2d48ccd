// Package fhirdest is the channel destination that turns HL7 v2 messages
// into FHIR resources in Concord's own store: it converts each message
// (internal/convert), stores the resulting transaction Bundle through the
// same code as POST /fhir (fhirapi.Importer) and counts the codes no
// ConceptMap maps in the "needs mapping" report (internal/terminology).
//
// A message that cannot be converted or whose resources the store refuses
// is answered AE with the reason, so that the engine keeps it, marks the
// delivery dead (the default policy of this destination) and, for a
// channel that answers after its destinations, tells the sender why. A
// failure of the store itself is a transport error: the delivery is tried
// again.
package fhirdest

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
	"github.com/concord-health/concord/internal/convert"
	"github.com/concord-health/concord/internal/engine"
	"github.com/concord-health/concord/internal/fhirapi"
	"github.com/concord-health/concord/internal/terminology"
)

// Actor is the audit actor of the resources the destination writes,
// followed by "/" and the channel name.
const Actor = "channel"

// Options configure a Sender.
type Options struct {
	// Channel names the channel the destination belongs to, for the audit
	// trail.
	Channel string
	// Zone is the time zone of HL7 date/times without a UTC offset; the
	// server's local zone when nil.
	Zone *time.Location
	// Node names this node in audit records.
	Node string
	// Now returns the time; time.Now when nil.
	Now func() time.Time
}

// Sender converts and stores messages; it implements engine.Sender.
type Sender struct {
	store    concord.Store
	importer *fhirapi.Importer
	mapper   *terminology.Mapper
	opt      Options
}

var _ engine.Sender = (*Sender)(nil)

// New returns a Sender writing to store. mapper may be nil (no code maps).
func New(store concord.Store, mapper *terminology.Mapper, opt Options) *Sender {
	if opt.Zone == nil {
		opt.Zone = time.Local
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Sender{store: store, importer: fhirapi.NewImporter(store, fhirapi.Options{}), mapper: mapper, opt: opt}
}

// Deliver converts m and stores the result. AA: stored (or nothing new
// to store); AE with the reason: the message cannot be converted, or the
// store refused what it converts to; Err: the store is unavailable.
func (s *Sender) Deliver(ctx context.Context, m *concord.Message) engine.Result {
	msg, err := hl7v2.Parse(m.Raw)
	if err != nil {
		return refused(fmt.Errorf("the message does not parse: %v", err))
	}
	var codes convert.CodeMapper
	if s.mapper != nil {
		if err := s.mapper.Refresh(ctx); err != nil {
			return engine.Result{Err: fmt.Errorf("code maps unavailable: %w", err)}
		}
		codes = mapperAdapter{s.mapper}
	}
	res, err := convert.ToFHIR(ctx, msg, convert.Options{
		MessageID: strconv.FormatInt(m.ID, 10),
		Received:  m.ReceivedAt,
		Codes:     codes,
		Zone:      s.opt.Zone,
	})
	if err != nil {
		return answer(err)
	}
	ctx = s.principal(ctx, m)
	sum, err := s.importer.Bundle(ctx, res.Bundle)
	if err != nil {
		return answer(err)
	}
	if err := s.recordUnmapped(ctx, res.Unmapped); err != nil {
		// The resources are stored; the report missing a count is not a
		// reason to store them again.
		return engine.Result{Code: "AA", Ack: summary(res, sum) + "; needs-mapping report not updated: " + err.Error()}
	}
	return engine.Result{Code: "AA", Ack: summary(res, sum)}
}

// Close does nothing.
func (s *Sender) Close() error { return nil }

// principal puts the channel's principal and audit template in ctx: the
// converted resources are written by the channel, on behalf of the
// message's sender.
func (s *Sender) principal(ctx context.Context, m *concord.Message) context.Context {
	scope, _ := concord.ParseScope("system/*.cruds")
	actor := Actor + "/" + s.opt.Channel
	p := &concord.Principal{Actor: actor, Role: concord.RoleAdmin, Scopes: []concord.Scope{scope}, Address: m.Peer}
	rec := concord.AuditRecord{Actor: actor, Role: string(p.Role), Address: m.Peer, Node: s.opt.Node,
		Detail: fmt.Sprintf("HL7 v2 message %d (%s^%s, control ID %s) from %s", m.ID, m.Type, m.Trigger, m.ControlID, m.Sender)}
	return concord.WithAuditTemplate(concord.WithPrincipal(ctx, p), rec)
}

// recordUnmapped counts each unmapped code once more in the report.
func (s *Sender) recordUnmapped(ctx context.Context, us []convert.Unmapped) error {
	if len(us) == 0 {
		return nil
	}
	now := s.opt.Now()
	return s.store.Update(ctx, func(tx concord.Tx) error {
		for _, u := range us {
			if u.Code == "" {
				continue
			}
			c := &concord.UnmappedCode{Sender: u.Sender, System: u.System, Code: u.Code, Display: u.Display,
				LastSeen: now}
			if u.Where != "" {
				c.Where = []string{u.Where}
			}
			if err := tx.RecordUnmapped(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
}

// answer maps a conversion or import error: the store being unavailable
// (or failing) is worth another attempt; anything else is the message's
// fault and answered AE.
func answer(err error) engine.Result {
	switch concord.ErrorCode(err) {
	case concord.EUNAVAILABLE, concord.EINTERNAL:
		return engine.Result{Err: err}
	}
	return refused(err)
}

func refused(err error) engine.Result {
	reason := concord.ErrorMessage(err)
	return engine.Result{Code: "AE", Ack: reason, Reason: reason}
}

// summary describes what a stored message came to, for the delivery's
// record.
func summary(res *convert.Result, sum fhirapi.ImportResult) string {
	return fmt.Sprintf("%s: %d resources: %d created, %d updated, %d unchanged", res.MessageType, res.Resources,
		sum.Created, sum.Updated, sum.Unchanged)
}

// mapperAdapter lets the terminology mapper answer the converter.
type mapperAdapter struct{ m *terminology.Mapper }

func (a mapperAdapter) Map(ctx context.Context, sender, system, code string) (convert.Coding, bool) {
	c, ok := a.m.Map(ctx, sender, system, code)
	return convert.Coding{System: c.System, Code: c.Code, Display: c.Display}, ok
}
