package engine

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/httperr"
	"github.com/concord-health/concord/mllp"
)

// HTTPSourcePattern is the route of the HTTP source: a message POSTed to
// it is received on the named channel, when that channel has http on.
const HTTPSourcePattern = "POST /api/channels/{name}/messages"

// maxHTTPMessage caps a POSTed message, as the MLLP frame limit does.
const maxHTTPMessage = mllp.DefaultMaxFrameSize

// HTTPAnswer is the JSON answer of the HTTP source, for callers that ask
// for application/json instead of the HL7 acknowledgment.
type HTTPAnswer struct {
	MessageID int64    `json:"message_id,omitempty"`
	Status    string   `json:"status,omitempty"`
	AckCode   string   `json:"ack_code"`
	Errors    []string `json:"errors,omitempty"`
	Ack       string   `json:"ack,omitempty"`
}

// HTTPSource returns the handler of HTTPSourcePattern. The server has
// authenticated and authorised the caller; the message's audit record
// names them. The answer is the HL7 acknowledgment (or HTTPAnswer with
// Accept: application/json) with a status that says what to do: 200
// accepted; 400 refused (AR, or AE for content that breaks a rule: fix it
// before sending again); 503 not stored, or (answering after
// destinations) not confirmed by every destination: send it again later,
// a repeat is recognised as a duplicate.
func (e *Engine) HTTPSource(enabled func(channel string) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if !enabled(name) {
			httperr.Write(w, r, concord.Errorf(concord.ENOTFOUND, "no channel %q takes messages over HTTP", name))
			return
		}
		if e.State(r.Context(), name) != concord.ChannelStarted {
			w.Header().Set("Retry-After", "30")
			httperr.Write(w, r, concord.Errorf(concord.EUNAVAILABLE, "channel %s is not started", name))
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxHTTPMessage+1))
		if err != nil {
			httperr.Write(w, r, concord.Errorf(concord.EINVALID, "reading the body: %v", err))
			return
		}
		if len(body) > maxHTTPMessage {
			httperr.Write(w, r, concord.Errorf(concord.ETOOLARGE, "a message is at most %d bytes", maxHTTPMessage))
			return
		}
		peer := r.RemoteAddr
		if host, _, err := net.SplitHostPort(peer); err == nil {
			peer = host
		}
		by := concord.AuditTemplateFrom(r.Context())
		a := e.Submit(r.Context(), Inbound{Channel: name, Via: "http", Peer: peer, Payload: body, By: &by})

		status := http.StatusOK
		switch {
		case a.Message == nil:
			status = httperr.Status(concord.Errorf(concord.EUNAVAILABLE, ""))
		case a.Code == "AR" || (a.Code == "AE" && (a.Message.Status == concord.MessageErrored || a.Message.Status == concord.MessageRejected)):
			status = httperr.Status(concord.Errorf(concord.EINVALID, ""))
		case a.Code == "AE":
			status = httperr.Status(concord.Errorf(concord.EUNAVAILABLE, ""))
		}
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			out := HTTPAnswer{AckCode: string(a.Code), Ack: string(a.Ack)}
			if a.Message != nil {
				out.MessageID, out.Status = a.Message.ID, a.Message.Status
			}
			for _, is := range a.Issues {
				out.Errors = append(out.Errors, is.Text)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(out)
			return
		}
		w.Header().Set("Content-Type", "x-application/hl7-v2+er7")
		w.WriteHeader(status)
		w.Write(a.Ack)
	})
}
