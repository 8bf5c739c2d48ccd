package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/mllp"
)

// MLLPHandler returns the handler that feeds an MLLP listener's messages
// into channel.
func (e *Engine) MLLPHandler(channel string) mllp.Handler {
	return mllp.HandlerFunc(func(ctx context.Context, c *mllp.Conn, payload []byte) ([]byte, error) {
		// A channel paused or stopped while a connection is open takes no
		// more messages on it: closing without an acknowledgment makes the
		// sender keep the message and send it again later.
		if e.State(ctx, channel) != concord.ChannelStarted {
			return nil, ErrNotStarted
		}
		return e.Receive(ctx, Inbound{Channel: channel, Peer: PeerOf(c), Payload: payload}), nil
	})
}

// addrOf is the IP address of a connection's peer.
func addrOf(c *mllp.Conn) string {
	ip := c.RemoteAddr.String()
	if host, _, err := net.SplitHostPort(ip); err == nil {
		return host
	}
	return ip
}

// PeerOf names the sender on a connection: the subject common name of its
// TLS client certificate and its address, or its address alone.
func PeerOf(c *mllp.Conn) string {
	ip := c.RemoteAddr.String()
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	if c.TLS != nil && len(c.TLS.PeerCertificates) > 0 {
		return c.TLS.PeerCertificates[0].Subject.CommonName + "@" + ip
	}
	return ip
}

// ErrSubjectNotAllowed is the refusal of a client certificate whose
// subject a channel does not list.
var ErrSubjectNotAllowed = errors.New("client certificate subject not allowed")

// VerifySubjects returns the check of each connection to an MLLP source
// after its TLS handshake: the verified client certificate must name one
// of subjects (its subject common name). With no subjects it is nil.
func VerifySubjects(subjects []string) func(*mllp.Conn) error {
	if len(subjects) == 0 {
		return nil
	}
	return func(c *mllp.Conn) error {
		if c.TLS == nil || len(c.TLS.PeerCertificates) == 0 {
			return fmt.Errorf("%w: no client certificate", ErrSubjectNotAllowed)
		}
		if cn := c.TLS.PeerCertificates[0].Subject.CommonName; !slices.Contains(subjects, cn) {
			return fmt.Errorf("%w: %q", ErrSubjectNotAllowed, cn)
		}
		return nil
	}
}

// ConnError records what an MLLP listener of channel reports about a
// connection. Broken framing (a frame over the size limit, or cut short)
// is stored as a rejected message, so operators see it beside the
// messages of that sender; the listener has closed the connection.
// Other connection problems are logged.
func (e *Engine) ConnError(channel string, c *mllp.Conn, err error, skipped int64) {
	peer := PeerOf(c)
	if errors.Is(err, ErrNotStarted) {
		e.opt.Logger.Info("mllp connection refused: channel not started", "channel", channel, "peer", peer)
		return
	}
	if errors.Is(err, mllp.ErrPeerNotAllowed) || errors.Is(err, mllp.ErrHandshake) || errors.Is(err, ErrSubjectNotAllowed) {
		// Someone tried to connect and was refused: a failed log-in for
		// the audit trail, as a refused token is on the HTTP port.
		e.opt.Logger.Warn("mllp connection refused", "channel", channel, "peer", peer, "err", err)
		rec := concord.AuditRecord{Time: e.opt.Now(), Actor: "mllp:" + peer, Address: addrOf(c), Action: concord.AuditLogin,
			Object: "channel/" + channel, Outcome: concord.OutcomeMinor, Node: e.opt.Node,
			Detail: Truncate("mllp connection refused: "+err.Error(), 500)}
		ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
		defer cancel()
		if aerr := e.opt.Store.Update(ctx, func(tx concord.Tx) error { r := rec; return tx.AppendAudit(ctx, &r) }); aerr != nil {
			e.opt.Logger.Error("refused connection not audited", "channel", channel, "peer", peer, "err", aerr)
		}
		return
	}
	if !errors.Is(err, mllp.ErrFrameTooLarge) && !errors.Is(err, mllp.ErrTruncated) {
		e.opt.Logger.Warn("mllp connection", "channel", channel, "peer", peer, "err", err, "skipped_bytes", skipped)
		return
	}
	m := &concord.Message{
		Channel: channel, Peer: peer, ReceivedAt: e.opt.Now(), Status: concord.MessageRejected,
		Error: fmt.Sprintf("framing: %v (%d bytes outside frames skipped); connection closed", err, skipped),
	}
	if _, serr := e.store(context.Background(), Inbound{Channel: channel, Peer: peer}, m, false, nil); serr != nil {
		e.opt.Logger.Error("framing error not stored", "channel", channel, "peer", peer, "err", serr)
	}
	e.opt.Logger.Warn("mllp framing error", "channel", channel, "peer", peer, "err", err, "message_id", m.ID)
}
