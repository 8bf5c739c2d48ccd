package convert

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

// Options are what the caller knows about a message beyond its bytes.
type Options struct {
	// Sender is the sending application/facility key, used for
	// identifier systems of identifiers with no assigning authority, for
	// local code systems and for code maps. When empty it is MSH-3^MSH-4
	// (each its namespace ID, else its universal ID), the key
	// internal/terminology scopes ConceptMaps by.
	Sender string
	// MessageID is the engine's id of the stored raw message; the
	// Provenance's entity names it (system urn:concord:message). When
	// empty, the Provenance names the sender's control ID (MSH-10).
	MessageID string
	// Received is when the message arrived; Provenance.recorded when the
	// message has no MSH-7.
	Received time.Time
	// Codes maps local clinical codes (diagnoses, allergens, procedures,
	// later results and drugs) to standard ones; nil maps nothing.
	Codes CodeMapper
	// Zone is the time zone of date/times that carry no UTC offset; UTC
	// when nil.
	Zone *time.Location
	// OrderNamespace is the namespace (EI-2) of the placer numbers Concord
	// writes for ServiceRequests that have no identifier
	// (OutboundOptions.Namespace): a result whose placer number is
	// "<id>^<OrderNamespace>" is about ServiceRequest <id>.
	// OutboundDefaultNamespace when empty.
	OrderNamespace string
}

// Coding is a code in a code system: what a CodeMapper answers.
type Coding struct {
	System, Code, Display, Version string
}

// CodeMapper maps a sender's local code to a standard one (through the
// per-sender ConceptMaps operators maintain). system is the FHIR code
// system URI the converter derived from the v2 coding system name (CWE-3):
// a well-known URI such as http://loinc.org for standard names, else
// urn:concord:v2:sender:<sender>:codesystem:<name>. It answers false when
// it has no mapping.
type CodeMapper interface {
	Map(ctx context.Context, sender, system, code string) (Coding, bool)
}

// Unmapped is a local code that a CodeMapper could not map: it was kept as
// given, and is listed here for the "needs mapping" report.
type Unmapped struct {
	Sender, System, Code, Display string
	// Where is the HL7 location of the code, such as "DG1-3".
	Where string
}

// Result is a converted message.
type Result struct {
	// Bundle is the FHIR transaction Bundle, as JSON.
	Bundle []byte
	// MessageType is MSH-9's code and trigger, such as "ADT^A01".
	MessageType string
	// Resources is the number of entries in the Bundle.
	Resources int
	// Unmapped lists the local codes no mapping was found for (only when
	// Options.Codes is set).
	Unmapped []Unmapped
}

// MessageFunc converts one message type: usually c.Walk(), which runs the
// registered segment converters over the message's segments in order.
type MessageFunc func(ctx context.Context, c *Context) error

// SegmentFunc converts one segment, adding or completing resources in c.
// The segment is given with its position: its ID and 1-based occurrence,
// for error locations (see Context.Loc).
type SegmentFunc func(ctx context.Context, c *Context, seg hl7v2.Segment) error

var (
	regMu    sync.RWMutex
	messages = map[string]MessageFunc{}
	segments = map[string]SegmentFunc{}
)

// RegisterMessage registers the converter of a message type, keyed
// "CODE^TRIGGER" (such as "ADT^A01"). Call it from an init function;
// registering a type twice panics.
func RegisterMessage(typ string, f MessageFunc) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := messages[typ]; dup {
		panic("convert: message type registered twice: " + typ)
	}
	messages[typ] = f
}

// RegisterSegment registers the converter of a segment ID (such as "PID").
// Call it from an init function; registering a segment twice panics.
func RegisterSegment(id string, f SegmentFunc) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := segments[id]; dup {
		panic("convert: segment registered twice: " + id)
	}
	segments[id] = f
}

// Supported returns the registered message types, sorted.
func Supported() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(messages))
	for k := range messages {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ToFHIR converts m into a FHIR transaction Bundle. A message type with no
// converter gives EUNSUPPORTED; a message lacking what the conversion
// needs gives EINVALID with the HL7 location in the message (such as
// "PID-3: no patient identifier").
func ToFHIR(ctx context.Context, m *hl7v2.Message, opt Options) (*Result, error) {
	code, trigger, _ := m.MessageType()
	if code == "" && trigger == "" {
		return nil, concord.Errorf(concord.EINVALID, "MSH-9: no message type")
	}
	if trigger == "" {
		// Before v2.3 the trigger may stand only in EVN-1.
		trigger = m.Get("EVN-1")
	}
	typ := code + "^" + trigger
	regMu.RLock()
	f := messages[typ]
	regMu.RUnlock()
	if f == nil {
		return nil, concord.Errorf(concord.EUNSUPPORTED, "unsupported message type %s", typ)
	}
	c := newContext(m, opt, trigger)
	if err := f(ctx, c); err != nil {
		return nil, err
	}
	if len(c.entries) == 0 {
		return nil, concord.Errorf(concord.EINVALID, "%s: the message holds nothing to convert", typ)
	}
	c.addProvenance(typ)
	body, err := c.bundle()
	if err != nil {
		return nil, concord.WrapError(concord.EINTERNAL, err, "encoding the Bundle")
	}
	return &Result{Bundle: body, MessageType: typ, Resources: len(c.entries), Unmapped: c.unmapped}, nil
}

// Context is the state of one conversion: the message, the entries built
// so far, and the resources later segments attach to.
type Context struct {
	Msg     *hl7v2.Message // the message being converted
	Opt     Options        // the caller's options
	Trigger string         // the trigger event, such as A01
	sender  string

	entries []*Entry
	byKey   map[string]*Entry
	counts  map[string]int // segment ID → occurrences seen so far

	// Patient is the entry of the patient the current segments are
	// about (set by PID), nil before it.
	Patient *Entry
	// Encounter is the entry of the current visit (set by PV1), nil
	// when there is none.
	Encounter *Entry
	// Account is the patient's account (PID-18), nil when there is none.
	Account *Entry
	// Last holds the last entry made by each segment ID, for segments that
	// complete an earlier one (IN2 → IN1's Coverage).
	Last map[string]*Entry
	// Group holds state a family of segment converters shares within the
	// message (the current order, say); keys are the converters' own.
	Group map[string]any

	unmapped []Unmapped
}

func newContext(m *hl7v2.Message, opt Options, trigger string) *Context {
	c := &Context{Msg: m, Opt: opt, Trigger: trigger, byKey: map[string]*Entry{},
		counts: map[string]int{}, Last: map[string]*Entry{}, Group: map[string]any{}}
	c.sender = opt.Sender
	if c.sender == "" {
		app := hdText(m.Get("MSH-3.1"), m.Get("MSH-3.2"))
		fac := hdText(m.Get("MSH-4.1"), m.Get("MSH-4.2"))
		c.sender = app
		if fac != "" {
			c.sender = app + "^" + fac
		}
	}
	return c
}

// hdText returns the first non-empty of the values.
func hdText(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// Sender returns the sender key the conversion uses.
func (c *Context) Sender() string { return c.sender }

// Walk runs the registered segment converters over every segment after
// MSH, in order; segments with no converter (Z-segments, SFT, …) are
// skipped.
func (c *Context) Walk(ctx context.Context) error {
	return c.WalkSegments(ctx, nil)
}

// WalkSegments is Walk with converters that take precedence over the
// registered ones for this message type (nil entries skip a segment).
func (c *Context) WalkSegments(ctx context.Context, override map[string]SegmentFunc) error {
	for i := 1; i < c.Msg.Len(); i++ {
		seg := c.Msg.Segment(i)
		name := seg.Name()
		c.counts[name]++
		f, ok := override[name]
		if !ok {
			regMu.RLock()
			f = segments[name]
			regMu.RUnlock()
		}
		if f == nil {
			continue
		}
		if err := f(ctx, c, seg); err != nil {
			return err
		}
	}
	return nil
}

// Loc names a field of the current occurrence of a segment for error
// messages: "PID-3", or "DG1[2]-3" for the second DG1.
func (c *Context) Loc(seg hl7v2.Segment, field int) string {
	n := c.counts[seg.Name()]
	if n > 1 {
		return fmt.Sprintf("%s[%d]-%d", seg.Name(), n, field)
	}
	return fmt.Sprintf("%s-%d", seg.Name(), field)
}

// Entry is one resource of the Bundle, written as a conditional update
// (or, for the Provenance, a conditional create).
type Entry struct {
	Type     string
	FullURL  string         // urn:uuid:…, deterministic from the key
	Resource map[string]any // the resource's JSON members
	// Search is the conditional update's criteria, such as
	// "identifier=urn:oid:1.2|123".
	Search string
	// IfNoneExist, when set, makes the entry a conditional create (POST)
	// instead of a conditional update.
	IfNoneExist string
	// Method, when "PATCH", makes the entry a conditional patch: Resource
	// is then a Binary holding a JSON Patch document, applied to the one
	// resource Search matches.
	Method string
	// noTarget leaves the entry out of the Provenance's targets (a patch
	// that may have nothing to patch: the resource is another entry's).
	noTarget bool
}

// Ref returns a Reference to the entry.
func (e *Entry) Ref() map[string]any { return map[string]any{"reference": e.FullURL} }

// Upsert returns the entry of the resource of type typ that identifier
// names, adding it (with that identifier first in resource.identifier and
// the conditional update searching on it) when the Bundle has none yet.
// The second result is false when the entry already existed: the caller
// then merges into e.Resource rather than replacing it.
func (c *Context) Upsert(typ string, identifier map[string]any) (*Entry, bool) {
	sys, _ := identifier["system"].(string)
	val, _ := identifier["value"].(string)
	key := typ + "|" + sys + "|" + val
	if e, ok := c.byKey[key]; ok {
		return e, false
	}
	res := map[string]any{"resourceType": typ}
	if typ != "Provenance" {
		res["identifier"] = []any{identifier}
	}
	e := &Entry{Type: typ, FullURL: "urn:uuid:" + nameUUID(key), Resource: res,
		Search: "identifier=" + tokenValue(sys, val)}
	c.byKey[key] = e
	c.entries = append(c.entries, e)
	return e, true
}

// Find returns the entry added under typ and identifier, or nil.
func (c *Context) Find(typ, system, value string) *Entry {
	return c.byKey[typ+"|"+system+"|"+value]
}

// tokenValue writes a token search value system|value with FHIR's search
// escapes (\ | , $), percent-encoded for a URL query.
func tokenValue(system, value string) string {
	esc := strings.NewReplacer(`\`, `\\`, `|`, `\|`, `,`, `\,`, `$`, `\$`)
	return url.QueryEscape(esc.Replace(system) + "|" + esc.Replace(value))
}

// bundle encodes the transaction Bundle.
func (c *Context) bundle() ([]byte, error) {
	entries := make([]any, 0, len(c.entries))
	for _, e := range c.entries {
		req := map[string]any{"method": "PUT", "url": e.Type + "?" + e.Search}
		if e.IfNoneExist != "" {
			req = map[string]any{"method": "POST", "url": e.Type, "ifNoneExist": e.IfNoneExist}
		}
		if e.Method == "PATCH" {
			req["method"] = "PATCH"
		}
		entries = append(entries, map[string]any{"fullUrl": e.FullURL, "resource": e.Resource, "request": req})
	}
	b := map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries}
	return json.Marshal(b)
}
