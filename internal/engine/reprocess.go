package engine

import (
	"context"

	"github.com/concord-health/concord"
)

// Reprocess runs a stored message again through its channel, as a new
// message: stored, checked and queued for the channel's destinations as
// if just received, without the duplicate check. With raw set, the
// operator's edited text is processed instead of the stored one (edit and
// resend). by names the operator for the audit record. It returns the new
// message and the acknowledgment code it got.
func (e *Engine) Reprocess(ctx context.Context, id int64, raw []byte, by concord.AuditRecord) (*concord.Message, string, error) {
	orig, err := e.opt.Store.Message(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if ch := e.channel(orig.Channel); ch != nil && ch.Changes != nil {
		// A change the channel could not convert is converted again.
		if raw != nil || orig.Status != concord.MessageErrored || len(orig.Raw) == 0 || orig.Raw[0] != '{' {
			return nil, "", concord.Errorf(concord.EINVALID, "channel %s follows the change log: only a change it could not convert can be reprocessed, as stored; fix the resource or the configuration instead", orig.Channel)
		}
		return e.reprocessChange(ctx, ch, orig, by)
	}
	if raw == nil {
		raw = orig.Raw
	}
	if len(raw) == 0 {
		return nil, "", concord.Errorf(concord.EINVALID, "message %d has no content to reprocess (broken framing, or pruned)", id)
	}
	m := e.Submit(ctx, Inbound{Channel: orig.Channel, Via: "operator", Peer: "reprocess", Payload: raw, By: &by, Reprocess: true}).Message
	if m == nil || m.ID == 0 {
		return nil, "", concord.Errorf(concord.EUNAVAILABLE, "the reprocessed message could not be stored")
	}
	return m, m.AckCode, nil
}
