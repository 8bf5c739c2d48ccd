package search

import (
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhir"
	"github.com/concord-health/concord/fhirpath"
)

// Limits on a search request: hostile ones must not make work for
// others.
const (
	DefaultCount = 20
	MaxCount     = 1000
	MaxOffset    = 100_000
	maxClauses   = 64
	maxValues    = 100
	maxChain     = 3 // chained parameters in one key (a.b.c.d is three)
	maxHas       = 2
	maxIncludes  = 20
)

// Include is an _include or _revinclude: Type:Param[:Target], Param "*"
// for every reference parameter.
type Include struct {
	Type, Param, Target string
	Iterate             bool
}

// Request is a parsed search request.
type Request struct {
	Query       concord.SearchQuery
	Includes    []Include
	RevIncludes []Include
	Summary     string   // _summary
	Elements    []string // _elements
	// Ignored are the parameters left out (unknown ones, when handling
	// is lenient), for the outcome in the result.
	Ignored []string
	// Params are the parameters used, for the result's links.
	Params url.Values
}

// Options tune the parser.
type Options struct {
	// Strict makes an unknown or unsupported parameter an error (Prefer:
	// handling=strict); otherwise it is ignored and listed.
	Strict bool
	// Now is the time ap on dates is measured from.
	Now time.Time
}

// resultParams are the parameters that shape the result, not the match.
var resultParams = map[string]bool{
	"_count": true, "_offset": true, "_sort": true, "_total": true, "_summary": true, "_elements": true,
	"_include": true, "_revinclude": true, "_format": true, "_pretty": true,
}

// Parse parses the search parameters of a search on typ.
func Parse(typ string, vals url.Values, opt Options) (*Request, error) {
	if !fhir.IsResource(typ) {
		return nil, concord.Errorf(concord.ENOTFOUND, "unknown resource type %q", typ)
	}
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	r := &Request{Query: concord.SearchQuery{Type: typ, Count: DefaultCount, Total: true}, Params: url.Values{}}
	p := parser{opt: opt}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		vs := vals[k]
		if resultParams[k] || strings.HasPrefix(k, "_include") || strings.HasPrefix(k, "_revinclude") {
			if err := r.result(k, vs); err != nil {
				return nil, err
			}
			continue
		}
		for _, v := range vs {
			c, err := p.clause(typ, k, v, 0)
			if err != nil {
				if ce, ok := err.(*unknownParam); ok {
					if !opt.Strict {
						r.Ignored = append(r.Ignored, ce.name)
						continue
					}
					return nil, concord.Errorf(concord.EINVALID, "%s (Prefer: handling=strict)", ce.why)
				}
				return nil, err
			}
			if len(r.Query.Where) >= maxClauses {
				return nil, concord.Errorf(concord.EINVALID, "a search has at most %d parameters", maxClauses)
			}
			r.Query.Where = append(r.Query.Where, *c)
			r.Params.Add(k, v)
		}
	}
	return r, nil
}

// unknownParam is a parameter the server does not know or support.
type unknownParam struct{ name, why string }

func (e *unknownParam) Error() string { return e.why }

// result reads a result parameter.
func (r *Request) result(k string, vs []string) error {
	last := vs[len(vs)-1]
	bad := func(format string, a ...any) error { return concord.Errorf(concord.EINVALID, format, a...) }
	switch {
	case k == "_count":
		n, err := strconv.Atoi(last)
		if err != nil || n < 0 {
			return bad("_count must be a whole number, not %q", last)
		}
		r.Query.Count = min(n, MaxCount)
		r.Params.Set(k, strconv.Itoa(r.Query.Count))
	case k == "_offset":
		n, err := strconv.Atoi(last)
		if err != nil || n < 0 || n > MaxOffset {
			return bad("_offset must be a whole number up to %d, not %q", MaxOffset, last)
		}
		r.Query.Offset = n
	case k == "_total":
		switch last {
		case "none":
			r.Query.Total = false
		case "estimate", "accurate":
			r.Query.Total = true
		default:
			return bad("_total is none, estimate or accurate, not %q", last)
		}
		r.Params.Set(k, last)
	case k == "_summary":
		switch last {
		case "true", "false", "text", "data":
		case "count":
			r.Query.Count, r.Query.Total = 0, true
		default:
			return bad("_summary is true, false, text, data or count, not %q", last)
		}
		r.Summary = last
		r.Params.Set(k, last)
	case k == "_elements":
		for _, v := range vs {
			for _, e := range strings.Split(v, ",") {
				if e = strings.TrimSpace(e); e != "" {
					r.Elements = append(r.Elements, e)
				}
			}
		}
		r.Params[k] = vs
	case k == "_sort":
		r.Query.Sort = nil
		for _, s := range strings.Split(last, ",") {
			desc := strings.HasPrefix(s, "-")
			name := strings.TrimPrefix(s, "-")
			kind := ""
			switch name {
			case "_id":
				kind = concord.SearchKindID
			case "_lastUpdated":
				kind = concord.SearchKindLastUpdated
			default:
				sp, ok := fhir.SearchParam(r.Query.Type, name)
				if !ok {
					return bad("cannot sort by %q: %s has no such search parameter", name, r.Query.Type)
				}
				switch sp.Type {
				case fhir.SearchComposite, fhir.SearchSpecial:
					return bad("cannot sort by %s, a %s parameter", name, sp.Type)
				}
				kind = sp.Type
			}
			r.Query.Sort = append(r.Query.Sort, concord.SearchSort{Param: name, Kind: kind, Desc: desc, Stored: Stored(r.Query.Type, name)})
		}
		r.Params.Set(k, last)
	case strings.HasPrefix(k, "_include") || strings.HasPrefix(k, "_revinclude"):
		rev := strings.HasPrefix(k, "_revinclude")
		mod := strings.TrimPrefix(strings.TrimPrefix(k, "_revinclude"), "_include")
		iterate := mod == ":iterate" || mod == ":recurse"
		if mod != "" && !iterate {
			return bad("%s: unknown modifier", k)
		}
		for _, v := range vs {
			inc, err := parseInclude(v, rev)
			if err != nil {
				return err
			}
			inc.Iterate = iterate
			if rev {
				r.RevIncludes = append(r.RevIncludes, inc)
			} else {
				r.Includes = append(r.Includes, inc)
			}
			if len(r.Includes)+len(r.RevIncludes) > maxIncludes {
				return bad("at most %d _include and _revinclude", maxIncludes)
			}
			r.Params.Add(k, v)
		}
	}
	return nil
}

func parseInclude(v string, rev bool) (Include, error) {
	if v == "*" {
		return Include{Param: "*"}, nil
	}
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return Include{}, concord.Errorf(concord.EINVALID, "include %q is not Type:parameter[:target]", v)
	}
	inc := Include{Type: parts[0], Param: parts[1]}
	if len(parts) == 3 {
		inc.Target = parts[2]
		if !fhir.IsResource(inc.Target) {
			return Include{}, concord.Errorf(concord.EINVALID, "include %q: unknown target type", v)
		}
	}
	if !fhir.IsResource(inc.Type) {
		return Include{}, concord.Errorf(concord.EINVALID, "include %q: unknown resource type", v)
	}
	if inc.Param != "*" {
		sp, ok := fhir.SearchParam(inc.Type, inc.Param)
		if !ok || sp.Type != fhir.SearchReference {
			return Include{}, concord.Errorf(concord.EINVALID, "include %q: %s has no reference parameter %s", v, inc.Type, inc.Param)
		}
	}
	return inc, nil
}

type parser struct {
	opt Options
}

var prefixes = []string{"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"}

// clause parses one key=value of a search on typ. depth counts chain
// links and _has levels above it.
func (p *parser) clause(typ, key, value string, depth int) (*concord.SearchClause, error) {
	if depth > maxChain+maxHas {
		return nil, concord.Errorf(concord.EINVALID, "%s: chains and _has nest at most %d deep", key, maxChain)
	}
	if strings.HasPrefix(key, "_has:") {
		parts := strings.SplitN(key, ":", 4)
		if len(parts) != 4 {
			return nil, concord.Errorf(concord.EINVALID, "%s: _has is _has:Type:reference:parameter", key)
		}
		ht, hp := parts[1], parts[2]
		if !fhir.IsResource(ht) {
			return nil, concord.Errorf(concord.EINVALID, "%s: unknown resource type %s", key, ht)
		}
		sp, ok := fhir.SearchParam(ht, hp)
		if !ok || sp.Type != fhir.SearchReference {
			return nil, concord.Errorf(concord.EINVALID, "%s: %s has no reference parameter %s", key, ht, hp)
		}
		inner, err := p.clause(ht, parts[3], value, depth+1)
		if err != nil {
			return nil, err
		}
		return &concord.SearchClause{Param: key, Kind: fhir.SearchReference, Has: &concord.SearchHas{Type: ht, Param: hp, Clause: *inner}}, nil
	}
	head, rest, chained := strings.Cut(key, ".")
	name, mod, _ := strings.Cut(head, ":")
	if chained {
		sp, ok := fhir.SearchParam(typ, name)
		if !ok || sp.Type != fhir.SearchReference {
			return nil, &unknownParam{key, "chain " + key + ": " + typ + " has no reference parameter " + name}
		}
		targets := sp.Targets
		if mod != "" {
			if !fhir.IsResource(mod) {
				return nil, concord.Errorf(concord.EINVALID, "%s: unknown resource type %s", key, mod)
			}
			targets = []string{mod}
		}
		next, _, _ := strings.Cut(rest, ".")
		next, _, _ = strings.Cut(next, ":")
		c := &concord.SearchClause{Param: name, Kind: fhir.SearchReference}
		for _, t := range targets {
			if _, ok := fhir.SearchParam(t, next); !ok && next != "_id" && next != "_lastUpdated" && !strings.HasPrefix(rest, "_has:") {
				continue
			}
			inner, err := p.clause(t, rest, value, depth+1)
			if err != nil {
				return nil, err
			}
			c.Chain = append(c.Chain, concord.ChainTarget{Type: t, Clause: *inner})
		}
		if len(c.Chain) == 0 {
			return nil, &unknownParam{key, "chain " + key + ": no target type of " + name + " has a parameter " + next}
		}
		return c, nil
	}
	var kind string
	var sp *fhir.SearchParameter
	switch name {
	case "_id":
		kind = concord.SearchKindID
	case "_lastUpdated":
		kind = concord.SearchKindLastUpdated
	case "_list":
		kind = concord.SearchKindList
	default:
		var ok bool
		sp, ok = fhir.SearchParam(typ, name)
		if !ok {
			return nil, &unknownParam{key, typ + " has no search parameter " + name}
		}
		kind = sp.Type
		if kind == fhir.SearchSpecial || sp.Expression == "" {
			return nil, &unknownParam{key, "search parameter " + name + " is not supported"}
		}
	}
	c := &concord.SearchClause{Param: name, Kind: kind, Stored: Stored(typ, name)}
	if sp != nil && sp.Type == fhir.SearchComposite {
		if len(sp.Components) != 2 {
			return nil, &unknownParam{key, "composite parameter " + name + " is not supported"}
		}
		second, _ := fhir.SearchParamByURL(sp.Components[1].Definition)
		first, _ := fhir.SearchParamByURL(sp.Components[0].Definition)
		if first == nil || second == nil || first.Type != fhir.SearchToken {
			return nil, &unknownParam{key, "composite parameter " + name + " is not supported"}
		}
		c.CompositeKind = second.Type
	}
	// Modifiers.
	switch mod {
	case "":
	case "missing":
		if value != "true" && value != "false" {
			return nil, concord.Errorf(concord.EINVALID, "%s takes true or false", key)
		}
		c.Modifier, c.Missing = "missing", value == "true"
		if kind == concord.SearchKindID || kind == concord.SearchKindLastUpdated || kind == concord.SearchKindList {
			return nil, concord.Errorf(concord.EINVALID, "%s: every resource has an id and a lastUpdated", key)
		}
		return c, nil
	case "exact", "contains":
		if kind != fhir.SearchString {
			return nil, concord.Errorf(concord.EINVALID, "%s: :%s applies to string parameters", key, mod)
		}
		c.Modifier = mod
	case "text", "not":
		if kind != fhir.SearchToken {
			return nil, concord.Errorf(concord.EINVALID, "%s: :%s applies to token parameters", key, mod)
		}
		c.Modifier = mod
	case "of-type":
		if kind != fhir.SearchToken {
			return nil, concord.Errorf(concord.EINVALID, "%s: :of-type applies to identifier parameters", key)
		}
		c.Param = name + ":of-type"
	case "above", "below":
		if kind != fhir.SearchURI {
			return nil, &unknownParam{key, key + ": :" + mod + " is supported on uri parameters only (no code system hierarchies here)"}
		}
		c.Modifier = mod
	case "identifier":
		if kind != fhir.SearchReference {
			return nil, concord.Errorf(concord.EINVALID, "%s: :identifier applies to reference parameters", key)
		}
		c.Param, c.Kind = name+":identifier", fhir.SearchToken
		kind = fhir.SearchToken // the values are tokens (system|value), not references
	default:
		if kind == fhir.SearchReference && fhir.IsResource(mod) {
			break // a type: handled with the values
		}
		return nil, &unknownParam{key, key + ": modifier :" + mod + " is not supported"}
	}
	for _, raw := range splitUnescaped(value, ',') {
		if len(c.Values) >= maxValues {
			return nil, concord.Errorf(concord.EINVALID, "%s: at most %d values", key, maxValues)
		}
		v, err := p.value(c, kind, mod, raw)
		if err != nil {
			return nil, concord.Errorf(concord.EINVALID, "%s=%s: %v", key, value, err)
		}
		c.Values = append(c.Values, v)
	}
	if len(c.Values) == 0 {
		return nil, concord.Errorf(concord.EINVALID, "%s has no value", key)
	}
	return c, nil
}

// value parses one value of a clause.
func (p *parser) value(c *concord.SearchClause, kind, mod, raw string) (concord.SearchValue, error) {
	var v concord.SearchValue
	switch kind {
	case concord.SearchKindID, concord.SearchKindList:
		v.Code = unescape(raw)
	case concord.SearchKindLastUpdated, fhir.SearchDate:
		return p.date(raw)
	case fhir.SearchString:
		s := unescape(raw)
		if mod == "exact" {
			v.Code = s
		} else {
			v.Code = Normalize(s)
		}
	case fhir.SearchToken:
		if mod == "text" {
			v.Code = Normalize(unescape(raw))
			break
		}
		parts := splitUnescaped(raw, '|')
		if strings.HasSuffix(c.Param, ":of-type") {
			if len(parts) != 3 {
				return v, errf("of-type takes system|code|value")
			}
			v.System, v.HasSystem, v.Code = unescape(parts[0]), true, unescape(parts[1])+"|"+unescape(parts[2])
			break
		}
		switch len(parts) {
		case 1:
			v.Code = unescape(parts[0])
		case 2:
			v.System, v.HasSystem, v.Code = unescape(parts[0]), true, unescape(parts[1])
		default:
			return v, errf("a token is [system|]code")
		}
		if v.Code == "" && (!v.HasSystem || v.System == "") {
			return v, errf("empty token")
		}
	case fhir.SearchNumber:
		return number(raw)
	case fhir.SearchQuantity:
		return quantity(raw)
	case fhir.SearchReference:
		s := unescape(raw)
		if fhir.IsResource(mod) {
			v.RefType = mod
		}
		t, id, url := ParseReference(s)
		switch {
		case url != "":
			v.URL, _, _ = strings.Cut(s, "|")
		case t != "":
			if v.RefType != "" && v.RefType != t {
				return v, errf("%s is not a %s", s, v.RefType)
			}
			v.RefType, v.Code = t, id
		case concord.IsFHIRID(s):
			v.Code = s
		default:
			return v, errf("%q is not a reference (Type/id, id or an absolute URL)", s)
		}
	case fhir.SearchURI:
		v.Code = unescape(raw)
	case fhir.SearchComposite:
		parts := splitUnescaped(raw, '$')
		if len(parts) != 2 {
			return v, errf("a composite value is first$second")
		}
		first, err := p.value(&concord.SearchClause{Param: c.Param}, fhir.SearchToken, "", parts[0])
		if err != nil {
			return v, err
		}
		second, err := p.value(&concord.SearchClause{Param: c.Param}, c.CompositeKind, "", parts[1])
		if err != nil {
			return v, err
		}
		first.Second = &second
		return first, nil
	default:
		return v, errf("%s parameters are not supported", kind)
	}
	return v, nil
}

// cutPrefix splits an ordered value's prefix off.
func cutPrefix(raw string) (string, string) {
	if len(raw) > 2 && slices.Contains(prefixes, raw[:2]) && (raw[2] >= '0' && raw[2] <= '9' || raw[2] == '-' || raw[2] == '.') {
		return raw[:2], raw[2:]
	}
	return "eq", raw
}

func (p *parser) date(raw string) (concord.SearchValue, error) {
	prefix, s := cutPrefix(raw)
	lo, hi, err := DateRange(unescape(s))
	if err != nil {
		return concord.SearchValue{}, err
	}
	v := concord.SearchValue{Prefix: prefix, DateLo: lo, DateHi: hi}
	if prefix == "ap" {
		// ap: a tenth of the distance from now, at least a day
		// (search.html#prefix leaves the amount to the server).
		now := p.opt.Now.UnixMicro()
		d := now - lo
		if d < 0 {
			d = -d
		}
		v.DateSlack = max(d/10, int64(24*time.Hour/time.Microsecond))
	}
	return v, nil
}

// number parses a number with its precision: 100 covers [99.5, 100.5),
// 100.0 covers [99.95, 100.05), 1e2 [50, 150) (search.html#number).
func number(raw string) (concord.SearchValue, error) {
	prefix, s := cutPrefix(raw)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return concord.SearchValue{}, errf("%q is not a number", s)
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		exp, _ = strconv.Atoi(s[i+1:])
	}
	decimals := 0
	if _, frac, ok := strings.Cut(mant, "."); ok {
		decimals = len(frac)
	}
	half := 0.5 * math.Pow(10, float64(exp-decimals))
	return concord.SearchValue{Prefix: prefix, Num: f, NumLo: f - half, NumHi: f + half}, nil
}

// quantity parses [prefix]number[|system|code]. A UCUM unit the server
// converts is compared in base units.
func quantity(raw string) (concord.SearchValue, error) {
	parts := splitUnescaped(raw, '|')
	if len(parts) != 1 && len(parts) != 3 {
		return concord.SearchValue{}, errf("a quantity is number|system|code")
	}
	v, err := number(parts[0])
	if err != nil {
		return v, err
	}
	if len(parts) == 3 {
		v.System, v.Unit = unescape(parts[1]), unescape(parts[2])
	}
	if v.Unit != "" && (v.System == UCUM || v.System == "") {
		if c, key, ok := fhirpath.UCUMCanonical(v.Num, v.Unit); ok {
			lo, _, _ := fhirpath.UCUMCanonical(v.NumLo, v.Unit)
			hi, _, _ := fhirpath.UCUMCanonical(v.NumHi, v.Unit)
			v.Num, v.NumLo, v.NumHi, v.CanonUnit = c, lo, hi, key
		}
	}
	return v, nil
}

func errf(format string, a ...any) error { return concord.Errorf(concord.EINVALID, format, a...) }

// splitUnescaped splits s at sep where it is not escaped with a
// backslash; the parts keep their escapes.
func splitUnescaped(s string, sep byte) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unescape removes the backslashes of \, \| \$ and \\.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
