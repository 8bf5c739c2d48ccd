package subscription

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/concord-health/concord"
)

// Notification types (backport notification-type).
const (
	typeEventNotification = "event-notification"
	typeHandshake         = "handshake"
	typeHeartbeat         = "heartbeat"
	typeQueryStatus       = "query-status"
	typeQueryEvent        = "query-event"
)

// bundleEntry is an entry of a notification Bundle.
type bundleEntry struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Request  *entryRequest   `json:"request,omitempty"`
	Response *entryResponse  `json:"response,omitempty"`
}

type entryRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

type entryResponse struct {
	Status string `json:"status"`
}

type param struct {
	Name           string           `json:"name"`
	ValueReference *reference       `json:"valueReference,omitempty"`
	ValueCanonical string           `json:"valueCanonical,omitempty"`
	ValueCode      string           `json:"valueCode,omitempty"`
	ValueString    string           `json:"valueString,omitempty"`
	ValueInstant   string           `json:"valueInstant,omitempty"`
	ValueCC        *codeableText    `json:"valueCodeableConcept,omitempty"`
	Part           []param          `json:"part,omitempty"`
	ValueInteger   *int64           `json:"valueInteger,omitempty"`
	Extension      []map[string]any `json:"extension,omitempty"`
}

type reference struct {
	Reference string `json:"reference"`
}

type codeableText struct {
	Text string `json:"text"`
}

// statusBundle is what a notification, $status or $events sends: a
// Bundle whose first entry is the subscription-status Parameters of the
// R5 Backport (STU 1.1, R4 profile), followed, as content asks, by an
// entry per event's focus (id-only: its request only; full-resource: the
// version that matched). base is the FHIR base for absolute URLs ("" in
// notifications, whose references are relative to the server's base).
// bundleType is history for notifications and $events, searchset for
// $status. The caller has checked that the reader may see the focus
// resources (include says which it may).
type statusBundle struct {
	base       string
	bundleType string
	kind       string // notification type
	sub        *sub
	state      *concord.SubscriptionState
	events     []*concord.SubscriptionEvent
	content    string
	now        time.Time
}

// build makes the Bundle; read returns a focus version's content (for
// full-resource), or nil to leave it out.
func (b *statusBundle) build(ctx context.Context, read func(ctx context.Context, e *concord.SubscriptionEvent) ([]byte, error)) ([]byte, error) {
	abs := func(rel string) string {
		if b.base == "" {
			return rel
		}
		return b.base + "/" + rel
	}
	status := b.sub.Status
	ps := []param{{Name: "subscription", ValueReference: &reference{abs("Subscription/" + b.sub.ID)}}}
	if t := b.sub.topic(); t != "" {
		ps = append(ps, param{Name: "topic", ValueCanonical: t})
	}
	since := b.state.Events
	if b.kind == typeEventNotification && len(b.events) > 0 {
		since = b.events[len(b.events)-1].Number
	}
	ps = append(ps, param{Name: "status", ValueCode: status}, param{Name: "type", ValueCode: b.kind},
		param{Name: "events-since-subscription-start", ValueString: strconv.FormatInt(since, 10)})
	var entries []bundleEntry
	for _, e := range b.events {
		part := []param{{Name: "event-number", ValueString: strconv.FormatInt(e.Number, 10)},
			{Name: "timestamp", ValueInstant: e.At.UTC().Format(time.RFC3339Nano)}}
		ref := e.Type + "/" + e.ID
		if b.content != contentEmpty {
			part = append(part, param{Name: "focus", ValueReference: &reference{abs(ref)}})
			entry := bundleEntry{Request: &entryRequest{Method: "PUT", URL: ref}, Response: &entryResponse{Status: "200"}}
			if e.Version == 1 {
				entry.Request, entry.Response = &entryRequest{Method: "POST", URL: e.Type}, &entryResponse{Status: "201"}
			}
			if b.base != "" {
				entry.FullURL = abs(ref)
			}
			if b.content == contentFull {
				body, err := read(ctx, e)
				if err != nil {
					return nil, err
				}
				entry.Resource = body
			}
			entries = append(entries, entry)
		}
		ps = append(ps, param{Name: "notification-event", Part: part})
	}
	if b.state.LastError != "" && (b.kind == typeQueryStatus || status == statusError) {
		ps = append(ps, param{Name: "error", ValueCC: &codeableText{Text: b.state.LastError}})
	}
	if b.kind == typeQueryStatus {
		// Concord's own counts, beside the backport's parameters.
		delivered, errors := b.state.Delivered, b.state.Errors
		ps = append(ps, param{Name: "concord-events-delivered", ValueInteger: &delivered},
			param{Name: "concord-error-count", ValueInteger: &errors})
	}
	status0, _ := json.Marshal(map[string]any{"resourceType": "Parameters",
		"meta": map[string]any{"profile": []string{profileStatus}}, "parameter": ps})
	first := bundleEntry{Resource: status0}
	if b.bundleType == "history" {
		first.Request = &entryRequest{Method: "GET", URL: abs("Subscription/" + b.sub.ID + "/$status")}
		first.Response = &entryResponse{Status: "200"}
	}
	id, _ := concord.NewID(b.now)
	bundle := map[string]any{"resourceType": "Bundle", "id": id, "type": b.bundleType,
		"timestamp": b.now.UTC().Format(time.RFC3339Nano), "entry": append([]bundleEntry{first}, entries...)}
	switch b.kind {
	case typeEventNotification, typeHandshake, typeHeartbeat:
		bundle["meta"] = map[string]any{"profile": []string{profileNotification}}
	}
	if b.bundleType == "searchset" {
		bundle["total"] = 1
	}
	return json.Marshal(bundle)
}
