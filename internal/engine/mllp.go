package engine

import (
	"context"
	"errors"
	"fmt"
	"net"

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
