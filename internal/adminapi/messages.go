package adminapi

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
	"github.com/concord-health/concord/internal/httperr"
)

// registerMessages adds the channel and message routes.
func (a *api) registerMessages(r Router) {
	r.Handle("GET /api/channels", concord.Access{
		Action: concord.Action{Permission: concord.PermChannelsRead}, Audit: concord.AuditRead, Object: "api/channels",
	}, http.HandlerFunc(a.channels))
	r.Handle("GET /api/messages", concord.Access{
		Action: concord.Action{Permission: concord.PermMessagesRead}, Audit: concord.AuditSearch, Object: "api/messages",
	}, http.HandlerFunc(a.messages))
	r.Handle("GET /api/messages/{id}", concord.Access{
		Action: concord.Action{Permission: concord.PermMessagesRead}, Audit: concord.AuditRead,
	}, http.HandlerFunc(a.message))
}

// Channel is one entry of GET /api/channels. Errored counts messages
// stored with errors and deliveries given up (dead).
type Channel struct {
	Name         string              `json:"name"`
	State        string              `json:"state"`
	Received     int64               `json:"received"`
	Filtered     int64               `json:"filtered"`
	Queued       int64               `json:"queued"`
	Sent         int64               `json:"sent"`
	Errored      int64               `json:"errored"`
	Rejected     int64               `json:"rejected"`
	Duplicate    int64               `json:"duplicate"`
	Destinations []DestinationCounts `json:"destinations"`
}

// DestinationCounts are one destination's deliveries by status.
type DestinationCounts struct {
	Name   string `json:"name"`
	Queued int64  `json:"queued"`
	Sent   int64  `json:"sent"`
	Dead   int64  `json:"dead"`
}

func (a *api) channels(w http.ResponseWriter, r *http.Request) {
	counts, err := a.store.MessageCounts(r.Context())
	if err != nil {
		storeFailed(w, r, err)
		return
	}
	deliveries, err := a.store.DeliveryCounts(r.Context())
	if err != nil {
		storeFailed(w, r, err)
		return
	}
	out := []Channel{}
	var names []string
	if a.engine != nil {
		names = a.engine.ChannelNames()
	}
	for _, name := range names {
		c := counts[name]
		state := concord.ChannelStarted
		if a.engine != nil {
			state = a.engine.State(r.Context(), name)
		}
		ch := Channel{Name: name, State: state, Received: c.Received, Filtered: c.Filtered,
			Errored: c.Errored, Rejected: c.Rejected, Duplicate: c.Duplicate, Destinations: []DestinationCounts{}}
		for dest, st := range deliveries[name] {
			ch.Queued += st[concord.DeliveryQueued]
			ch.Sent += st[concord.DeliverySent]
			ch.Errored += st[concord.DeliveryDead]
			ch.Destinations = append(ch.Destinations, DestinationCounts{Name: dest, Queued: st[concord.DeliveryQueued],
				Sent: st[concord.DeliverySent], Dead: st[concord.DeliveryDead]})
		}
		slices.SortFunc(ch.Destinations, func(a, b DestinationCounts) int { return strings.Compare(a.Name, b.Name) })
		out = append(out, ch)
	}
	writeJSON(w, http.StatusOK, out)
}

// MessagePage is the body of GET /api/messages.
type MessagePage struct {
	Total    int64              `json:"total"`
	Limit    int                `json:"limit"`
	Offset   int                `json:"offset"`
	Messages []*concord.Message `json:"messages"`
}

func (a *api) messages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := concord.MessageFilter{
		Channel: q.Get("channel"), ControlID: q.Get("control_id"), Type: q.Get("type"), Trigger: q.Get("trigger"),
		Status: q.Get("status"), PatientID: q.Get("patient_id"), Sender: q.Get("sender"),
		Destination: q.Get("destination"), DeliveryStatus: q.Get("delivery_status"),
	}
	switch f.DeliveryStatus {
	case "", concord.DeliveryQueued, concord.DeliverySent, concord.DeliveryDead:
	default:
		httperr.Write(w, r, concord.Errorf(concord.EINVALID, "delivery_status: want queued, sent or dead"))
		return
	}
	var err error
	if f.Since, err = timeParam(q.Get("since")); err != nil {
		httperr.Write(w, r, concord.Errorf(concord.EINVALID, "since: %v", err))
		return
	}
	if f.Until, err = timeParam(q.Get("until")); err != nil {
		httperr.Write(w, r, concord.Errorf(concord.EINVALID, "until: %v", err))
		return
	}
	if f.Limit, err = intParam(q.Get("limit"), 100, 1000); err != nil {
		httperr.Write(w, r, concord.Errorf(concord.EINVALID, "limit: %v", err))
		return
	}
	if f.Offset, err = intParam(q.Get("offset"), 0, 1<<30); err != nil {
		httperr.Write(w, r, concord.Errorf(concord.EINVALID, "offset: %v", err))
		return
	}
	ms, total, err := a.store.Messages(r.Context(), f)
	if err != nil {
		storeFailed(w, r, err)
		return
	}
	if ms == nil {
		ms = []*concord.Message{}
	}
	writeJSON(w, http.StatusOK, MessagePage{Total: total, Limit: f.Limit, Offset: f.Offset, Messages: ms})
}

// MessageDetail is the body of GET /api/messages/{id}: the message, its
// raw text, its parsed segments and its deliveries.
type MessageDetail struct {
	*concord.Message
	Raw        string              `json:"raw"`
	Segments   []Segment           `json:"segments,omitempty"`
	Deliveries []*concord.Delivery `json:"deliveries"`
	// ParseError says why the raw text is not a message, when it is not.
	ParseError string `json:"parse_error,omitempty"`
}

// Segment is one parsed segment: its ID and its fields as encoded.
type Segment struct {
	Name   string   `json:"name"`
	Fields []string `json:"fields"`
}

func (a *api) message(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		httperr.Write(w, r, concord.Errorf(concord.EINVALID, "message id must be a positive number"))
		return
	}
	m, err := a.store.Message(r.Context(), id)
	if err != nil {
		if concord.ErrorCode(err) != concord.ENOTFOUND {
			err = concord.WrapError(concord.EUNAVAILABLE, err, "store unavailable")
		}
		httperr.Write(w, r, err)
		return
	}
	concord.NoteAudit(r.Context(), "message/"+strconv.FormatInt(m.ID, 10), m.PatientID)
	d := MessageDetail{Message: m, Raw: string(m.Raw), Deliveries: []*concord.Delivery{}}
	if ds, err := a.store.Deliveries(r.Context(), m.ID); err != nil {
		storeFailed(w, r, err)
		return
	} else if ds != nil {
		d.Deliveries = ds
	}
	if len(m.Raw) > 0 {
		if pm, err := hl7v2.Parse(m.Raw); err != nil {
			d.ParseError = err.Error()
		} else {
			for _, s := range pm.Segments() {
				seg := Segment{Name: s.Name()}
				for f := 1; f <= s.FieldCount(); f++ {
					seg.Fields = append(seg.Fields, string(s.Field(f).Raw()))
				}
				d.Segments = append(d.Segments, seg)
			}
		}
	}
	writeJSON(w, http.StatusOK, d)
}

func timeParam(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

func intParam(s string, def, maxV int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxV {
		return 0, errBadInt(maxV)
	}
	return n, nil
}

type errBadInt int

func (e errBadInt) Error() string { return "want a whole number from 0 to " + strconv.Itoa(int(e)) }
