package subscription

import (
	"bytes"
	"context"
	"encoding/json"
	"mime"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/concord-health/concord"
)

// Limits on what a Subscription may ask for.
const (
	maxHeaders     = 20
	maxHeaderBytes = 4096
	maxEndpoint    = 2048
	maxCriteria    = 4096
)

// Channel types served.
const (
	channelRestHook  = "rest-hook"
	channelWebsocket = "websocket"
)

// sub is the part of an R4 Subscription resource Concord acts on, in
// the R4 form (criteria a search) or the backport's topic-based form
// (criteria a topic, with filter and payload-content extensions).
type sub struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	Criteria    string `json:"criteria"`
	CriteriaExt struct {
		Extension []extension `json:"extension"`
	} `json:"_criteria"`
	Error   string `json:"error"`
	End     string `json:"end"`
	Channel struct {
		Extension  []extension `json:"extension"`
		Type       string      `json:"type"`
		Endpoint   string      `json:"endpoint"`
		Payload    string      `json:"payload"`
		PayloadExt struct {
			Extension []extension `json:"extension"`
		} `json:"_payload"`
		Header []string `json:"header"`
	} `json:"channel"`
}

// extension is a FHIR extension with the value types the backport uses.
type extension struct {
	URL              string `json:"url"`
	ValueString      string `json:"valueString"`
	ValueCode        string `json:"valueCode"`
	ValueUnsignedInt int64  `json:"valueUnsignedInt"`
}

// parseSub reads a stored Subscription.
func parseSub(content []byte) (*sub, error) {
	var s sub
	if err := json.Unmarshal(content, &s); err != nil {
		return nil, concord.Errorf(concord.EINVALID, "the Subscription does not read: %v", err)
	}
	return &s, nil
}

// ended reports whether the subscription's end time has passed.
func (s *sub) ended(now time.Time) bool {
	if s.End == "" {
		return false
	}
	end, err := time.Parse(time.RFC3339Nano, s.End)
	return err == nil && !now.Before(end)
}

// topic returns the topic of a topic-based subscription, "" for an R4
// criteria one.
func (s *sub) topic() string {
	if isTopic(s.Criteria) {
		return s.Criteria
	}
	return ""
}

// content returns what a topic-based subscription's notifications carry:
// empty, id-only or full-resource.
func (s *sub) content() string {
	for _, e := range s.Channel.PayloadExt.Extension {
		if e.URL == extPayloadContent {
			return e.ValueCode
		}
	}
	return defaultBackportContent
}

// heartbeat returns a topic-based subscription's heartbeat period
// (backport-heartbeat-period), 0 for none.
func (s *sub) heartbeat() time.Duration {
	if s.topic() == "" {
		return 0
	}
	for _, e := range s.Channel.Extension {
		if e.URL == extHeartbeat && e.ValueUnsignedInt > 0 {
			return time.Duration(min(e.ValueUnsignedInt, maxHeartbeat)) * time.Second
		}
	}
	return 0
}

// handshakes reports whether the subscription is activated by a
// handshake (R5 Backport: topic-based, rest-hook).
func (s *sub) handshakes() bool { return s.topic() != "" && s.Channel.Type == channelRestHook }

// criteria returns the resource type and search parameters of an R4
// criteria subscription or one on a built-in topic. For a topic defined
// by a client (a Basic resource, read from the store by plan) it returns
// "*" and no parameters: callers that only authorise by the type
// ($events, websocket binds) then ask for rights on every type.
func (s *sub) criteria() (string, url.Values, error) {
	if t := s.topic(); t != "" {
		if !isBuiltinTopic(t) {
			return "*", nil, nil
		}
		return topicCriteria(t, s.filters())
	}
	return parseCriteria(s.Criteria)
}

// check refuses a Subscription this server cannot serve, saying why. It
// returns what the subscription matches; find reads topics defined by
// clients.
func (s *sub) check(ctx context.Context, find topicFinder) (plan, error) {
	p, err := s.plan(ctx, find)
	if err != nil {
		return nil, err
	}
	if err := s.checkChannel(); err != nil {
		return nil, err
	}
	return p, nil
}

// checkChannel refuses a channel (and, for a topic-based subscription,
// a payload content) this server cannot serve.
func (s *sub) checkChannel() error {
	if s.topic() != "" {
		switch s.content() {
		case contentEmpty, contentIDOnly, contentFull:
		default:
			return concord.Errorf(concord.EINVALID, "backport-payload-content %q is not empty, id-only or full-resource", s.content())
		}
		if s.Channel.Type != channelRestHook {
			return concord.Errorf(concord.EUNSUPPORTED, "topic-based subscriptions are notified by rest-hook only on this server")
		}
	}
	switch s.Channel.Type {
	case channelRestHook:
		if err := checkEndpoint(s.Channel.Endpoint); err != nil {
			return err
		}
	case channelWebsocket:
		// The client connects to the server (WebsocketPath) and binds:
		// channel.endpoint is not used.
	default:
		return concord.Errorf(concord.EUNSUPPORTED, "Subscription.channel.type %q: this server notifies by rest-hook and websocket only", s.Channel.Type)
	}
	if s.Channel.Payload != "" {
		mt, _, err := mime.ParseMediaType(s.Channel.Payload)
		if err != nil || (mt != "application/fhir+json" && mt != "application/json") {
			return concord.Errorf(concord.EUNSUPPORTED, "Subscription.channel.payload %q: this server sends application/fhir+json, or nothing", s.Channel.Payload)
		}
	}
	_, err := s.headers()
	return err
}

// checkEndpoint accepts an absolute http or https URL without user
// information. Whether its address may be private is decided when it is
// dialled (see dialer), where a name's address is known.
func checkEndpoint(endpoint string) error {
	if len(endpoint) > maxEndpoint {
		return concord.Errorf(concord.EINVALID, "Subscription.channel.endpoint is longer than %d bytes", maxEndpoint)
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return concord.Errorf(concord.EINVALID, "Subscription.channel.endpoint %q is not an absolute http or https URL", endpoint)
	}
	if u.User != nil {
		return concord.Errorf(concord.EINVALID, "Subscription.channel.endpoint may not carry user information; use channel.header")
	}
	return nil
}

// headers reads channel.header ("Name: value" each).
func (s *sub) headers() ([][2]string, error) {
	if len(s.Channel.Header) > maxHeaders {
		return nil, concord.Errorf(concord.EINVALID, "Subscription.channel.header: at most %d headers", maxHeaders)
	}
	var out [][2]string
	for _, h := range s.Channel.Header {
		name, value, ok := strings.Cut(h, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || len(h) > maxHeaderBytes || !validHeaderName(name) || strings.ContainsAny(value, "\r\n\x00") {
			return nil, concord.Errorf(concord.EINVALID, "Subscription.channel.header %q is not \"Name: value\"", truncate(h, 80))
		}
		switch textproto.CanonicalMIMEHeaderKey(name) {
		case "Host", "Content-Length", "Content-Type", "Transfer-Encoding", "Connection":
			return nil, concord.Errorf(concord.EINVALID, "Subscription.channel.header may not set %s", name)
		}
		out = append(out, [2]string{name, value})
	}
	return out, nil
}

// validHeaderName reports whether s is an HTTP field name (RFC 9110 token).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// parseCriteria reads an R4 criteria string, Type?params (no leading
// slash, no base).
func parseCriteria(criteria string) (string, url.Values, error) {
	if criteria == "" {
		return "", nil, concord.Errorf(concord.EINVALID, "Subscription.criteria is required (a search such as Observation?code=http://loinc.org|1234-5)")
	}
	if len(criteria) > maxCriteria {
		return "", nil, concord.Errorf(concord.EINVALID, "Subscription.criteria is longer than %d bytes", maxCriteria)
	}
	typ, query, _ := strings.Cut(criteria, "?")
	params, err := url.ParseQuery(query)
	if err != nil {
		return "", nil, concord.Errorf(concord.EINVALID, "Subscription.criteria %q: the query does not parse: %v", truncate(criteria, 200), err)
	}
	for k := range params {
		switch k {
		case "_count", "_offset", "_sort", "_total", "_summary", "_elements", "_include", "_revinclude", "_format", "_pretty", "_contained", "_containedType":
			return "", nil, concord.Errorf(concord.EINVALID, "Subscription.criteria: %s shapes search results and means nothing for a subscription", k)
		}
	}
	return typ, params, nil
}

// withStatus returns content (a stored resource's JSON object) with its
// status set and its error set, or removed when errText is empty; the
// members keep their order.
func withStatus(content []byte, status, errText string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(content))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, concord.Errorf(concord.EINVALID, "the Subscription is not a JSON object")
	}
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	member := func(k string, v []byte) {
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(v)
	}
	str := func(s string) []byte { v, _ := json.Marshal(s); return v }
	sawStatus := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, concord.Errorf(concord.EINVALID, "the Subscription does not read: %v", err)
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, concord.Errorf(concord.EINVALID, "the Subscription does not read: %v", err)
		}
		switch k {
		case "status":
			member(k, str(status))
			sawStatus = true
		case "error", "_error":
			// written again below
		default:
			member(k, v)
		}
	}
	if !sawStatus {
		member("status", str(status))
	}
	if errText != "" {
		member("error", str(errText))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// truncate cuts s to at most n bytes for a message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
