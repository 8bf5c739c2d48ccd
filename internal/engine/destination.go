package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
	"github.com/concord-health/concord/internal/convert"
	"github.com/concord-health/concord/mllp"
)

// Result is what one delivery attempt came to.
type Result struct {
	// Code is the partner's answer mapped to AA, AE or AR (commit codes
	// CA, CE, CR count as AA, AE, AR); "" when Err is set.
	Code string
	// Ack is the partner's answer as received, for the record.
	Ack string
	// Err is a transport failure (refused, timed out, no matching
	// acknowledgment): worth trying again.
	Err error
	// Reason, when set with AE or AR, says why the destination refused
	// the message; it goes into the delivery's last error, and from there
	// into the ERR of a channel that answers after its destinations.
	Reason string
}

// Sender delivers messages to one destination.
type Sender interface {
	Deliver(ctx context.Context, m *concord.Message) Result
	Close() error
}

// Destination is one place a channel delivers to, with its retry policy.
type Destination struct {
	Name string
	// Sender delivers; when nil, Channel names another channel of this
	// engine that receives the message.
	Sender  Sender
	Channel string
	// Key identifies the destination's configuration: when Configure
	// finds the same channel, name and Key, the running destination is
	// kept as it is. Empty means it is restarted on every Configure.
	Key          string
	RetryInitial time.Duration // first retry delay; doubles each time
	RetryMax     time.Duration // longest delay
	MaxAttempts  int           // 0: no limit
	Timeout      time.Duration // one attempt
	OnAE, OnAR   string        // "retry" or "dead"
	// Parallel, when above 1, lets the destination deliver that many
	// messages at once, keeping order per patient (PID-3) instead of for
	// the whole queue (parallel.go). The sender must be safe for
	// concurrent use.
	Parallel int
	// Outbound, in a channel with a changes source, says how the messages
	// for this destination are written (ControlID and Time are set per
	// change).
	Outbound convert.OutboundOptions
	// Partner, in a channel with a changes source, is how the
	// destination's system names itself as a sender (MSH-3^MSH-4 or
	// MSH-3): a change that came from its own message is not sent back.
	Partner string
	id      uint64 // which configuration this is (Configure)
}

// Channel is a channel's configuration as the engine sees it.
type Channel struct {
	Name string
	// Filter, when set, decides which accepted messages the channel passes
	// to its destinations; the others are stored as filtered.
	Filter *Filter
	// Transformer, when set, rewrites what the destinations receive.
	Transformer  *Transformer
	Destinations []Destination
	// RespondAfterDestinations holds the answer to the sender until every
	// destination has taken the message (sent) or given it up (dead), at
	// most RespondTimeout: AA when all took it, else AE naming each
	// destination that did not. By default the answer follows the commit.
	RespondAfterDestinations bool
	RespondTimeout           time.Duration
	// AppAck, when set, carries application acknowledgments back to
	// senders that ask for them (enhanced mode, MSH-16; see appack.go).
	AppAck *Destination
	// Changes, when set, makes the channel follow the clinical store's
	// change log (see ChangeSource and changes.go).
	Changes *ChangeSource
}

// queues returns every destination of the channel that has a queue: its
// destinations and the application acknowledgment one.
func (ch *Channel) queues() []*Destination {
	out := make([]*Destination, 0, len(ch.Destinations)+1)
	for i := range ch.Destinations {
		out = append(out, &ch.Destinations[i])
	}
	if ch.AppAck != nil {
		out = append(out, ch.AppAck)
	}
	return out
}

// wire returns the message in wire form: segments ending in CR, no
// byte-order mark, as destinations expect whatever the sender used.
func wire(m *concord.Message) []byte {
	if b, err := hl7v2.SplitBatch(m.Raw); err == nil && len(b.Messages) == 1 {
		return b.Messages[0]
	}
	return m.Raw
}

// ackResult reads an HL7 acknowledgment into a Result.
func ackResult(ack []byte) Result {
	a, err := hl7v2.Parse(ack)
	if err != nil {
		return Result{Err: fmt.Errorf("answer is not an HL7 acknowledgment: %v", err), Ack: string(ack)}
	}
	code := map[string]string{"AA": "AA", "CA": "AA", "AE": "AE", "CE": "AE", "AR": "AR", "CR": "AR"}[a.Get("MSA-1")]
	if code == "" {
		return Result{Err: fmt.Errorf("acknowledgment code %q is not AA, AE, AR, CA, CE or CR", a.Get("MSA-1")), Ack: string(ack)}
	}
	return Result{Code: code, Ack: string(ack)}
}

// MLLPSender delivers over MLLP and checks the partner's acknowledgment,
// whose MSA-2 must match the message's control ID.
type MLLPSender struct{ client *mllp.Client }

// NewMLLPSender returns a sender to the MLLP receiver at addr.
func NewMLLPSender(addr string, timeout time.Duration) *MLLPSender {
	return &MLLPSender{client: &mllp.Client{Addr: addr, AckTimeout: timeout, DialTimeout: timeout}}
}

// Deliver sends the message and reads its acknowledgment.
func (s *MLLPSender) Deliver(ctx context.Context, m *concord.Message) Result {
	ack, err := s.client.Send(ctx, wire(m))
	if err != nil {
		return Result{Err: err}
	}
	return ackResult(ack)
}

// Close closes the connection.
func (s *MLLPSender) Close() error { return s.client.Close() }

// HTTPSender POSTs each message. A 2xx answer is success (or, when its
// body is an HL7 acknowledgment, what that says); 4xx is a refusal (AR);
// 5xx, 429 and transport failures are tried again.
type HTTPSender struct {
	url    string
	client *http.Client
}

// NewHTTPSender returns a sender to url.
func NewHTTPSender(url string, timeout time.Duration) *HTTPSender {
	return &HTTPSender{url: url, client: &http.Client{Timeout: timeout}}
}

// Deliver posts the message.
func (s *HTTPSender) Deliver(ctx context.Context, m *concord.Message) Result {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(wire(m)))
	if err != nil {
		return Result{Err: err}
	}
	req.Header.Set("Content-Type", "x-application/hl7-v2+er7")
	req.Header.Set("X-Concord-Message-Id", strconv.FormatInt(m.ID, 10))
	resp, err := s.client.Do(req)
	if err != nil {
		return Result{Err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		if bytes.HasPrefix(bytes.TrimSpace(body), []byte("MSH")) {
			return ackResult(bytes.TrimSpace(body))
		}
		return Result{Code: "AA", Ack: resp.Status}
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return Result{Err: fmt.Errorf("%s", resp.Status), Ack: string(body)}
	default:
		return Result{Code: "AR", Ack: resp.Status + ": " + string(body)}
	}
}

// Close releases idle connections.
func (s *HTTPSender) Close() error { s.client.CloseIdleConnections(); return nil }

// FileSender writes each message to a file of its own in a directory,
// durably: written to a temporary name, synced, then renamed.
type FileSender struct{ dir string }

// NewFileSender returns a sender writing into dir, which it creates.
func NewFileSender(dir string) (*FileSender, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	return &FileSender{dir: dir}, nil
}

// Deliver writes <channel>-<message id>.hl7.
func (s *FileSender) Deliver(ctx context.Context, m *concord.Message) Result {
	name := filepath.Join(s.dir, fmt.Sprintf("%s-%d.hl7", m.Channel, m.ID))
	tmp, err := os.CreateTemp(s.dir, ".partial-*")
	if err != nil {
		return Result{Err: err}
	}
	_, err = tmp.Write(wire(m))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return Result{Err: err}
	}
	if d, err := os.Open(s.dir); err == nil {
		d.Sync()
		d.Close()
	}
	return Result{Code: "AA", Ack: "written " + filepath.Base(name)}
}

// Close does nothing.
func (s *FileSender) Close() error { return nil }

// channelSender hands each message to another channel of the same engine,
// as if that channel had received it: stored there with its own audit
// record, checked, filtered, transformed and queued for its destinations.
// The target's duplicate check makes a redelivery after a crash (sent,
// but the attempt not yet recorded) a no-op, so each message enters the
// target once.
type channelSender struct {
	eng      *Engine
	from, to string
}

// Deliver submits the message to the target channel; a paused or stopped
// target is retried later.
func (s *channelSender) Deliver(ctx context.Context, m *concord.Message) Result {
	if st := s.eng.State(ctx, s.to); st != concord.ChannelStarted {
		return Result{Err: fmt.Errorf("channel %s is %s", s.to, st)}
	}
	a := s.eng.Submit(ctx, Inbound{Channel: s.to, Via: "channel", Peer: s.from, Payload: wire(m)})
	if a.Message == nil {
		return Result{Err: fmt.Errorf("channel %s could not store the message", s.to)}
	}
	res := Result{Code: string(a.Code), Ack: string(a.Ack)}
	if res.Ack == "" {
		res.Ack = fmt.Sprintf("%s (message %d in channel %s)", a.Code, a.Message.ID, s.to)
	}
	return res
}

// Close does nothing.
func (s *channelSender) Close() error { return nil }
