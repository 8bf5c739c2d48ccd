package adminapi

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/httperr"
)

// RegisterLab adds the lab routes: GET /api/lab/turnaround, the
// turnaround times of lab tests (Register adds it too).
func RegisterLab(r Router, store concord.Store) {
	l := &labAPI{store: store}
	r.Handle("GET /api/lab/turnaround", concord.Access{
		Action: concord.Action{Permission: concord.PermLabRead}, Audit: concord.AuditSearch, Object: "api/lab/turnaround",
	}, http.HandlerFunc(l.turnaround))
}

type labAPI struct {
	store concord.Store
}

// Turnaround is the body of GET /api/lab/turnaround.
type Turnaround struct {
	Since *time.Time      `json:"since,omitempty"`
	Until *time.Time      `json:"until,omitempty"`
	Tests []TestTurnround `json:"tests"`
}

// TestTurnround is the turnaround of one test (ServiceRequest.code):
// how many final reports it had, and the time from order to specimen
// received, from specimen received to final result, and from order to
// final result.
type TestTurnround struct {
	System          string   `json:"system,omitempty"`
	Code            string   `json:"code,omitempty"`
	Display         string   `json:"display,omitempty"`
	Count           int      `json:"count"`
	OrderToReceived Interval `json:"order_to_received"`
	ReceivedToFinal Interval `json:"received_to_final"`
	OrderToFinal    Interval `json:"order_to_final"`
}

// Interval summarises the durations of one stage over the reports that
// have both ends: how many, the median and the 90th percentile (nearest
// rank), in seconds.
type Interval struct {
	Count         int     `json:"count"`
	MedianSeconds float64 `json:"median_seconds"`
	P90Seconds    float64 `json:"p90_seconds"`
}

// labPage is how many reports are read at once.
const labPage = 500

// turnaround answers the turnaround view, computed from the stored
// resources: for every final (or corrected, amended, appended)
// DiagnosticReport based on a ServiceRequest, the order time is
// ServiceRequest.authoredOn, the specimen received time the earliest
// Specimen.receivedTime of the report's (else the order's) specimens, and
// the final result time DiagnosticReport.issued, else the latest
// effective time of its result Observations. since and until (RFC 3339
// or a date) keep the reports whose order time (else result time) falls
// in [since, until).
func (l *labAPI) turnaround(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var out Turnaround
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"since", &out.Since}, {"until", &out.Until}} {
		v := r.URL.Query().Get(p.name)
		if v == "" {
			continue
		}
		t, ok := parseFHIRTime(v)
		if !ok {
			httperr.Write(w, r, concord.Errorf(concord.EINVALID, "%s: %q is not a date or an RFC 3339 time", p.name, v))
			return
		}
		*p.dst = &t
	}
	tests, err := l.compute(ctx, out.Since, out.Until)
	if err != nil {
		storeFailed(w, r, err)
		return
	}
	out.Tests = tests
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// labResource is what the view reads of the resources it uses.
type labResource struct {
	ResourceType string `json:"resourceType"`
	Status       string `json:"status"`
	Code         struct {
		Coding []struct {
			System, Code, Display string
		} `json:"coding"`
		Text string `json:"text"`
	} `json:"code"`
	BasedOn           []labRef `json:"basedOn"`
	Specimen          []labRef `json:"specimen"`
	Result            []labRef `json:"result"`
	Issued            string   `json:"issued"`
	AuthoredOn        string   `json:"authoredOn"`
	ReceivedTime      string   `json:"receivedTime"`
	EffectiveDateTime string   `json:"effectiveDateTime"`
	EffectivePeriod   struct {
		End string `json:"end"`
	} `json:"effectivePeriod"`
}

type labRef struct {
	Reference string `json:"reference"`
}

// ref parses "Type/id".
func (x labRef) ref(typ string) (concord.Ref, bool) {
	t, id, ok := strings.Cut(x.Reference, "/")
	if !ok || t != typ || id == "" || strings.Contains(id, "/") {
		return concord.Ref{}, false
	}
	return concord.Ref{Type: t, ID: id}, true
}

var finalStatus = map[string]bool{"final": true, "corrected": true, "amended": true, "appended": true}

// compute reads every report and groups the durations by test.
func (l *labAPI) compute(ctx context.Context, since, until *time.Time) ([]TestTurnround, error) {
	type sample struct {
		key                     string
		system, code, display   string
		ordered, received, done time.Time
	}
	type stats struct {
		t             TestTurnround
		o2r, r2f, o2f []float64
	}
	byKey := map[string]*stats{}
	for off := 0; ; off += labPage {
		page, _, err := l.store.Search(ctx, &concord.SearchQuery{Type: "DiagnosticReport", Count: labPage, Offset: off})
		if err != nil {
			return nil, err
		}
		var reports []labResource
		var refs []concord.Ref
		for _, res := range page {
			var dr labResource
			if json.Unmarshal(res.Content, &dr) != nil || !finalStatus[dr.Status] {
				continue
			}
			reports = append(reports, dr)
			for _, b := range dr.BasedOn {
				if rf, ok := b.ref("ServiceRequest"); ok {
					refs = append(refs, rf)
				}
			}
			for _, s := range dr.Specimen {
				if rf, ok := s.ref("Specimen"); ok {
					refs = append(refs, rf)
				}
			}
			if dr.Issued == "" {
				for _, o := range dr.Result {
					if rf, ok := o.ref("Observation"); ok {
						refs = append(refs, rf)
					}
				}
			}
		}
		linked, err := l.load(ctx, refs)
		if err != nil {
			return nil, err
		}
		// The orders' specimens, for reports that list none.
		var more []concord.Ref
		for _, dr := range reports {
			if len(dr.Specimen) > 0 {
				continue
			}
			for _, b := range dr.BasedOn {
				if sr, ok := linked[b.Reference]; ok {
					for _, s := range sr.Specimen {
						if rf, ok := s.ref("Specimen"); ok {
							more = append(more, rf)
						}
					}
				}
			}
		}
		extra, err := l.load(ctx, more)
		if err != nil {
			return nil, err
		}
		for k, v := range extra {
			linked[k] = v
		}
		for _, dr := range reports {
			var sr *labResource
			for _, b := range dr.BasedOn {
				if x, ok := linked[b.Reference]; ok {
					sr = x
					break
				}
			}
			if sr == nil {
				continue
			}
			s := sample{}
			code := sr.Code
			if len(code.Coding) == 0 && code.Text == "" {
				code = dr.Code
			}
			if len(code.Coding) > 0 {
				s.system, s.code, s.display = code.Coding[0].System, code.Coding[0].Code, code.Coding[0].Display
			}
			if s.display == "" {
				s.display = code.Text
			}
			s.key = s.system + "|" + s.code
			if s.code == "" {
				s.key = "text|" + strings.ToLower(s.display)
			}
			s.ordered, _ = parseFHIRInstant(sr.AuthoredOn)
			specs := dr.Specimen
			if len(specs) == 0 {
				specs = sr.Specimen
			}
			for _, sp := range specs {
				if x, ok := linked[sp.Reference]; ok {
					if t, ok := parseFHIRInstant(x.ReceivedTime); ok && (s.received.IsZero() || t.Before(s.received)) {
						s.received = t
					}
				}
			}
			if t, ok := parseFHIRInstant(dr.Issued); ok {
				s.done = t
			} else {
				for _, o := range dr.Result {
					if x, ok := linked[o.Reference]; ok {
						eff := x.EffectiveDateTime
						if eff == "" {
							eff = x.EffectivePeriod.End
						}
						if t, ok := parseFHIRInstant(eff); ok && t.After(s.done) {
							s.done = t
						}
					}
				}
			}
			when := s.ordered
			if when.IsZero() {
				when = s.done
			}
			if since != nil && (when.IsZero() || when.Before(*since)) || until != nil && (when.IsZero() || !when.Before(*until)) {
				continue
			}
			st := byKey[s.key]
			if st == nil {
				st = &stats{t: TestTurnround{System: s.system, Code: s.code, Display: s.display}}
				byKey[s.key] = st
			}
			st.t.Count++
			add := func(list *[]float64, from, to time.Time) {
				if !from.IsZero() && !to.IsZero() && !to.Before(from) {
					*list = append(*list, to.Sub(from).Seconds())
				}
			}
			add(&st.o2r, s.ordered, s.received)
			add(&st.r2f, s.received, s.done)
			add(&st.o2f, s.ordered, s.done)
		}
		if len(page) < labPage {
			break
		}
	}
	out := make([]TestTurnround, 0, len(byKey))
	for _, st := range byKey {
		st.t.OrderToReceived = summarise(st.o2r)
		st.t.ReceivedToFinal = summarise(st.r2f)
		st.t.OrderToFinal = summarise(st.o2f)
		out = append(out, st.t)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].System+"|"+out[i].Code+"|"+out[i].Display < out[j].System+"|"+out[j].Code+"|"+out[j].Display
	})
	return out, nil
}

// load reads the current resources among refs, by "Type/id".
func (l *labAPI) load(ctx context.Context, refs []concord.Ref) (map[string]*labResource, error) {
	out := map[string]*labResource{}
	for len(refs) > 0 {
		n := min(len(refs), labPage)
		res, err := l.store.Resources(ctx, refs[:n])
		if err != nil {
			return nil, err
		}
		refs = refs[n:]
		for _, r := range res {
			var x labResource
			if json.Unmarshal(r.Content, &x) == nil {
				out[r.Type+"/"+r.ID] = &x
			}
		}
	}
	return out, nil
}

// summarise gives the count, median and 90th percentile (nearest rank)
// of durations in seconds.
func summarise(d []float64) Interval {
	if len(d) == 0 {
		return Interval{}
	}
	sort.Float64s(d)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(d)))) - 1
		return d[max(0, min(i, len(d)-1))]
	}
	return Interval{Count: len(d), MedianSeconds: rank(0.5), P90Seconds: rank(0.9)}
}

// parseFHIRInstant reads a FHIR dateTime that has a time (a date alone
// is not precise enough for a turnaround).
func parseFHIRInstant(s string) (time.Time, bool) {
	if len(s) <= len("2006-01-02") {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// parseFHIRTime reads a query time: RFC 3339, or a date (midnight UTC).
func parseFHIRTime(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, true
	}
	return time.Time{}, false
}
