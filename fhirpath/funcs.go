package fhirpath

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// call is one compiled function invocation.
type call struct {
	at    int
	name  string
	args  []evalFn // compiled arguments
	nodes []Node   // the arguments' syntax, for type arguments
	ts    TypeSpec // for is, as, ofType
	desc  []bool   // for sort: which keys are descending
}

// arg evaluates argument i with the invocation's own $this as focus.
func (c *call) arg(e *env, i int) (Collection, error) {
	if i >= len(c.args) {
		return nil, nil
	}
	saved := e.vars // an argument is its own scope for defineVariable
	out, err := c.args[i](e, e.this)
	e.vars = saved
	return out, err
}

// each evaluates argument i once per input item, with that item as $this
// and focus and its position as $index.
func (c *call) each(e *env, in Collection, i int, fn func(k int, v Value, r Collection) (bool, error)) error {
	saveThis, saveIndex, saveVars := e.this, e.index, e.vars
	defer func() { e.this, e.index, e.vars = saveThis, saveIndex, saveVars }()
	for k, v := range in {
		e.vars = saveVars
		if err := e.step(1); err != nil {
			return err
		}
		item := Collection{v}
		e.this, e.index = item, k
		r, err := c.args[i](e, item)
		if err != nil {
			return err
		}
		if more, err := fn(k, v, r); err != nil || !more {
			return err
		}
	}
	return nil
}

type function struct {
	min, max int
	typeArg  bool // the argument is a type specifier
	fn       func(e *env, c *call, in Collection) (Collection, error)
}

var functions map[string]function

func init() {
	functions = map[string]function{
		// Existence (FHIRPath 2.0 section 5.1).
		"empty": {0, 0, false, func(e *env, c *call, in Collection) (Collection, error) { return bools(len(in) == 0), nil }},
		"exists": {0, 1, false, func(e *env, c *call, in Collection) (Collection, error) {
			if len(c.args) == 0 {
				return bools(len(in) > 0), nil
			}
			found := false
			err := c.each(e, in, 0, func(_ int, _ Value, r Collection) (bool, error) {
				b, ok, err := singletonBool(c.at, r)
				found = ok && b
				return !found, err
			})
			return bools(found), err
		}},
		"all": {1, 1, false, func(e *env, c *call, in Collection) (Collection, error) {
			all := true
			err := c.each(e, in, 0, func(_ int, _ Value, r Collection) (bool, error) {
				b, ok, err := singletonBool(c.at, r)
				all = ok && b
				return all, err
			})
			return bools(all), err
		}},
		"allTrue":    {0, 0, false, boolAggregate(func(t, f, n int) bool { return f == 0 })},
		"anyTrue":    {0, 0, false, boolAggregate(func(t, f, n int) bool { return t > 0 })},
		"allFalse":   {0, 0, false, boolAggregate(func(t, f, n int) bool { return t == 0 })},
		"anyFalse":   {0, 0, false, boolAggregate(func(t, f, n int) bool { return f > 0 })},
		"subsetOf":   {1, 1, false, subsetFn(false)},
		"supersetOf": {1, 1, false, subsetFn(true)},
		"count": {0, 0, false, func(e *env, c *call, in Collection) (Collection, error) {
			return Collection{intValue(int64(len(in)))}, nil
		}},
		"distinct": {0, 0, false, func(e *env, c *call, in Collection) (Collection, error) { return union(e, in, nil) }},
		"isDistinct": {0, 0, false, func(e *env, c *call, in Collection) (Collection, error) {
			u, err := union(e, in, nil)
			return bools(len(u) == len(in)), err
		}},

		// Filtering and projection (5.2).
		"where": {1, 1, false, func(e *env, c *call, in Collection) (Collection, error) {
			var out Collection
			err := c.each(e, in, 0, func(_ int, v Value, r Collection) (bool, error) {
				b, ok, err := singletonBool(c.at, r)
				if ok && b {
					out = append(out, v)
				}
				return true, err
			})
			return out, err
		}},
		"select": {1, 1, false, func(e *env, c *call, in Collection) (Collection, error) {
			var out Collection
			err := c.each(e, in, 0, func(_ int, _ Value, r Collection) (bool, error) {
				out = append(out, r...)
				return true, nil
			})
			return out, err
		}},
		"repeat": {1, 1, false, func(e *env, c *call, in Collection) (Collection, error) {
			var out Collection
			queue := in
			for len(queue) > 0 {
				var next Collection
				err := c.each(e, queue, 0, func(_ int, _ Value, r Collection) (bool, error) {
					for _, v := range r {
						seen, err := e.contains(out, v)
						if err != nil {
							return false, err
						}
						if !seen {
							out = append(out, v)
							next = append(next, v)
						}
					}
					return true, nil
				})
				if err != nil {
					return nil, err
				}
				queue = next
			}
			return out, nil
		}},
		"ofType": {1, 1, true, func(e *env, c *call, in Collection) (Collection, error) { return ofType(in, c.ts), nil }},

		// Subsetting (5.3).
		"single": {0, 0, false, func(e *env, c *call, in Collection) (Collection, error) {
			if len(in) > 1 {
				return nil, evalErrorf(c.at, "single() on %d items", len(in))
			}
			return in, nil
		}},
		"first": {0, 0, false, func(e *env, c *call, in Collection) (Collection, error) { return take(in, 0, 1), nil }},
		"last": {0, 0, false, func(e *env, c *call, in Collection) (Collection, error) {
			return take(in, len(in)-1, 1), nil
		}},
		"tail": {0, 0, false, func(e *env, c *call, in Collection) (Collection, error) { return take(in, 1, len(in)), nil }},
		"skip": {1, 1, false, func(e *env, c *call, in Collection) (Collection, error) {
			n, ok, err := intArg(e, c, 0)
			if err != nil || !ok {
				return nil, err
			}
			return take(in, int(max(n, 0)), len(in)), nil
		}},
		"take": {1, 1, false, func(e *env, c *call, in Collection) (Collection, error) {
			n, ok, err := intArg(e, c, 0)
			if err != nil || !ok || n <= 0 {
				return nil, err
			}
			return take(in, 0, int(n)), nil
		}},
		"intersect": {1, 1, false, membershipFn(true)},
		"exclude":   {1, 1, false, membershipFn(false)},

		// Combining (5.4).
		"union": {1, 1, false, func(e *env, c *call, in Collection) (Collection, error) {
			other, err := c.arg(e, 0)
			if err != nil {
				return nil, err
			}
			return union(e, in, other)
		}},
		"combine": {1, 1, false, func(e *env, c *call, in Collection) (Collection, error) {
			other, err := c.arg(e, 0)
			return append(append(Collection{}, in...), other...), err
		}},

		// Conversion (5.5).
		"iif": {2, 3, false, func(e *env, c *call, in Collection) (Collection, error) {
			if len(in) > 1 {
				return nil, evalErrorf(c.at, "iif() on %d items", len(in))
			}
			cond, err := c.arg(e, 0)
			if err != nil {
				return nil, err
			}
			if len(cond) > 1 {
				return nil, evalErrorf(c.at, "iif criterion with %d items", len(cond))
			}
			b, ok, err := singletonBool(c.at, cond)
			if err != nil {
				return nil, err
			}
			if ok && len(cond) == 1 {
				if v, _ := cond[0].system(); v.kind != KindBoolean {
					return nil, evalErrorf(c.at, "iif criterion is not a Boolean")
				}
			}
			if ok && b {
				return c.arg(e, 1)
			}
			return c.arg(e, 2)
		}},
		"toBoolean":          {0, 0, false, converter(toBoolean)},
		"convertsToBoolean":  {0, 0, false, converts(toBoolean)},
		"toInteger":          {0, 0, false, converter(toInteger)},
		"convertsToInteger":  {0, 0, false, converts(toInteger)},
		"toDecimal":          {0, 0, false, converter(toDecimal)},
		"convertsToDecimal":  {0, 0, false, converts(toDecimal)},
		"toString":           {0, 0, false, converter(toStringValue)},
		"convertsToString":   {0, 0, false, converts(toStringValue)},
		"toDate":             {0, 0, false, converter(toDate)},
		"convertsToDate":     {0, 0, false, converts(toDate)},
		"toDateTime":         {0, 0, false, converter(toDateTime)},
		"convertsToDateTime": {0, 0, false, converts(toDateTime)},
		"toTime":             {0, 0, false, converter(toTime)},
		"convertsToTime":     {0, 0, false, converts(toTime)},
		"toQuantity": {0, 1, false, func(e *env, c *call, in Collection) (Collection, error) {
			v, ok, err := singleSystem(c, in)
			if err != nil || !ok {
				return nil, err
			}
			q, ok := toQuantity(v)
			if !ok {
				return nil, nil
			}
			if len(c.args) == 1 {
				unit, err := c.arg(e, 0)
				if err != nil || len(unit) != 1 {
					return nil, err
				}
				u, _ := unit[0].system()
				target := Value{kind: KindQuantity, s: u.s, scale: q.scale}
				_, conv, ok := commensurable(target, q, false)
				if !ok {
					return nil, nil
				}
				return Collection{quantityValue(conv, u.s)}, nil
			}
			return Collection{q}, nil
		}},
		"convertsToQuantity": {0, 1, false, func(e *env, c *call, in Collection) (Collection, error) {
			v, ok, err := singleSystem(c, in)
			if err != nil || !ok {
				return nil, err
			}
			_, ok = toQuantity(v)
			return bools(ok), nil
		}},

		// String manipulation (5.6).
		"indexOf": {1, 1, false, stringFn(1, func(s string, a []string) Collection {
			return Collection{intValue(int64(utf8.RuneCountInString(s[:max(strings.Index(s, a[0]), 0)])) - boolInt(strings.Index(s, a[0]) < 0))}
		})},
		"substring": {1, 2, false, func(e *env, c *call, in Collection) (Collection, error) {
			s, ok, err := singleString(c, in)
			if err != nil || !ok {
				return nil, err
			}
			start, ok, err := intArg(e, c, 0)
			if err != nil || !ok {
				return nil, err
			}
			r := []rune(s)
			if start < 0 || start >= int64(len(r)) {
				return nil, nil
			}
			end := int64(len(r))
			if len(c.args) == 2 {
				n, ok, err := intArg(e, c, 1)
				if err != nil {
					return nil, err
				}
				if ok {
					end = min(start+max(n, 0), end)
				}
			}
			return Collection{stringValue(string(r[start:end]))}, nil
		}},
		"startsWith": {1, 1, false, stringFn(1, func(s string, a []string) Collection { return bools(strings.HasPrefix(s, a[0])) })},
		"endsWith":   {1, 1, false, stringFn(1, func(s string, a []string) Collection { return bools(strings.HasSuffix(s, a[0])) })},
		"contains":   {1, 1, false, stringFn(1, func(s string, a []string) Collection { return bools(strings.Contains(s, a[0])) })},
		"upper":      {0, 0, false, stringFn(0, func(s string, a []string) Collection { return strs(strings.ToUpper(s)) })},
		"lower":      {0, 0, false, stringFn(0, func(s string, a []string) Collection { return strs(strings.ToLower(s)) })},
		"replace": {2, 2, false, stringFn(2, func(s string, a []string) Collection {
			return strs(strings.ReplaceAll(s, a[0], a[1]))
		})},
		"matches": {1, 1, false, regexFn(func(re *regexp.Regexp, s string, _ []string) Collection { return bools(re.MatchString(s)) })},
		"matchesFull": {1, 1, false, func(e *env, c *call, in Collection) (Collection, error) {
			return regexFull(e, c, in)
		}},
		"replaceMatches": {2, 2, false, regexFn(func(re *regexp.Regexp, s string, a []string) Collection {
			if re.String() == "(?s)" {
				return strs(s) // an empty pattern changes nothing
			}
			return strs(re.ReplaceAllString(s, convertReplacement(a[0])))
		})},
		"length": {0, 0, false, stringFn(0, func(s string, a []string) Collection {
			return Collection{intValue(int64(utf8.RuneCountInString(s)))}
		})},
		"toChars": {0, 0, false, stringFn(0, func(s string, a []string) Collection {
			var out Collection
			for _, r := range s {
				out = append(out, stringValue(string(r)))
			}
			return out
		})},
		"trim": {0, 0, false, stringFn(0, func(s string, a []string) Collection { return strs(strings.TrimSpace(s)) })},
		"split": {1, 1, false, stringFn(1, func(s string, a []string) Collection {
			var out Collection
			for _, p := range strings.Split(s, a[0]) {
				out = append(out, stringValue(p))
			}
			return out
		})},
		"join": {0, 1, false, func(e *env, c *call, in Collection) (Collection, error) {
			sep := ""
			if len(c.args) == 1 {
				a, err := c.arg(e, 0)
				if err != nil {
					return nil, err
				}
				if len(a) == 1 {
					sep = a[0].String()
				}
			}
			parts := make([]string, 0, len(in))
			for _, v := range in {
				s, ok := v.system()
				if !ok || s.kind != KindString {
					return nil, evalErrorf(c.at, "join() on %s", v.TypeName())
				}
				parts = append(parts, s.s)
			}
			return strs(strings.Join(parts, sep)), nil
		}},
		"encode":   {1, 1, false, stringFn(1, encodeString)},
		"decode":   {1, 1, false, stringFn(1, decodeString)},
		"escape":   {1, 1, false, stringFn(1, escapeString)},
		"unescape": {1, 1, false, stringFn(1, unescapeString)},

		// Math (5.7).
		"abs":      {0, 0, false, mathFn(func(d decimal) (decimal, bool) { return decimal{c: abs64(d.c), s: d.s}, true })},
		"ceiling":  {0, 0, false, intMathFn(math.Ceil)},
		"floor":    {0, 0, false, intMathFn(math.Floor)},
		"truncate": {0, 0, false, intMathFn(math.Trunc)},
		"exp":      {0, 0, false, floatFn(math.Exp)},
		"ln":       {0, 0, false, floatFn(math.Log)},
		"sqrt":     {0, 0, false, floatFn(math.Sqrt)},
		"log": {1, 1, false, func(e *env, c *call, in Collection) (Collection, error) {
			x, ok, err := singleNumber(c, in)
			if err != nil || !ok {
				return nil, err
			}
			b, err := c.arg(e, 0)
			if err != nil || len(b) != 1 {
				return nil, err
			}
			bv, _ := b[0].system()
			if !isNumber(bv) {
				return nil, evalErrorf(c.at, "log base is not a number")
			}
			return floatResult(math.Log(x.float()) / math.Log(numberOf(bv).float()))
		}},
		"power": {1, 1, false, func(e *env, c *call, in Collection) (Collection, error) {
			xs, ok, err := singleSystem(c, in)
			if err != nil || !ok || !isNumber(xs) {
				return nil, err
			}
			p, err := c.arg(e, 0)
			if err != nil || len(p) != 1 {
				return nil, err
			}
			pv, _ := p[0].system()
			if !isNumber(pv) {
				return nil, nil
			}
			r := math.Pow(numberOf(xs).float(), numberOf(pv).float())
			if math.IsNaN(r) || math.IsInf(r, 0) {
				return nil, nil
			}
			if xs.kind != KindDecimal && pv.kind != KindDecimal && r == math.Trunc(r) && math.Abs(r) < 1<<62 {
				return Collection{intValue(int64(r))}, nil
			}
			return floatResult(r)
		}},
		"round": {0, 1, false, func(e *env, c *call, in Collection) (Collection, error) {
			x, ok, err := singleNumber(c, in)
			if err != nil || !ok {
				return nil, err
			}
			p := int64(0)
			if len(c.args) == 1 {
				if p, ok, err = intArg(e, c, 0); err != nil || !ok {
					return nil, err
				}
				if p < 0 {
					return nil, evalErrorf(c.at, "round() precision below zero")
				}
			}
			return Collection{decimalValue(x.round(int8(min(p, 18))))}, nil
		}},

		// Tree navigation (5.8).
		"children": {0, 0, false, func(e *env, c *call, in Collection) (Collection, error) {
			return allChildren(e, in)
		}},
		"descendants": {0, 0, false, func(e *env, c *call, in Collection) (Collection, error) {
			var out Collection
			level := in
			for len(level) > 0 {
				next, err := allChildren(e, level)
				if err != nil {
					return nil, err
				}
				out = append(out, next...)
				level = next
			}
			return out, nil
		}},

		// Utility (5.9).
		"trace": {1, 2, false, func(e *env, c *call, in Collection) (Collection, error) {
			name, err := c.arg(e, 0)
			if err != nil {
				return nil, err
			}
			if e.opt.Trace != nil {
				shown := in
				if len(c.args) == 2 {
					shown = nil
					err := c.each(e, in, 1, func(_ int, _ Value, r Collection) (bool, error) {
						shown = append(shown, r...)
						return true, nil
					})
					if err != nil {
						return nil, err
					}
				}
				label := ""
				if len(name) == 1 {
					label = name[0].String()
				}
				e.opt.Trace(label, shown)
			}
			return in, nil
		}},
		"now":       {0, 0, false, func(e *env, c *call, in Collection) (Collection, error) { return nowValue(e, KindDateTime), nil }},
		"today":     {0, 0, false, func(e *env, c *call, in Collection) (Collection, error) { return nowValue(e, KindDate), nil }},
		"timeOfDay": {0, 0, false, func(e *env, c *call, in Collection) (Collection, error) { return nowValue(e, KindTime), nil }},
		"not": {0, 0, false, func(e *env, c *call, in Collection) (Collection, error) {
			b, ok, err := singletonBool(c.at, in)
			if err != nil || !ok {
				return nil, err
			}
			return bools(!b), nil
		}},

		// Aggregates (7).
		"aggregate": {1, 2, false, func(e *env, c *call, in Collection) (Collection, error) {
			var total Collection
			if len(c.args) == 2 {
				var err error
				if total, err = c.arg(e, 1); err != nil {
					return nil, err
				}
			}
			saveTotal := e.total
			defer func() { e.total = saveTotal }()
			e.total = total
			err := c.each(e, in, 0, func(_ int, _ Value, r Collection) (bool, error) {
				total = r
				e.total = total
				return true, nil
			})
			return total, err
		}},

		// Types (6.3).
		"is": {1, 1, true, func(e *env, c *call, in Collection) (Collection, error) {
			if len(in) == 0 {
				return nil, nil
			}
			if len(in) > 1 {
				return nil, evalErrorf(c.at, "is() on %d items", len(in))
			}
			return bools(isType(in[0], c.ts)), nil
		}},
		"as": {1, 1, true, func(e *env, c *call, in Collection) (Collection, error) { return asType(c.at, in, c.ts) }},

		// FHIR (FHIR R4 section 2.1.9.1.5).
		"extension": {1, 1, false, func(e *env, c *call, in Collection) (Collection, error) {
			url, err := c.arg(e, 0)
			if err != nil || len(url) != 1 {
				return nil, err
			}
			want := url[0].String()
			var out Collection
			for _, v := range in {
				exts, err := children(e, v, "extension", nil)
				if err != nil {
					return nil, err
				}
				for _, x := range exts {
					if u, ok := x.ref.Get("url"); ok && u.String() == want {
						out = append(out, x)
					}
				}
			}
			return out, nil
		}},
		"hasValue": {0, 0, false, func(e *env, c *call, in Collection) (Collection, error) {
			if len(in) != 1 {
				return bools(false), nil
			}
			_, ok := in[0].system()
			return bools(in[0].isNode() && isPrimitiveNode(in[0]) && ok), nil
		}},
		"getValue": {0, 0, false, func(e *env, c *call, in Collection) (Collection, error) {
			if len(in) != 1 || !isPrimitiveNode(in[0]) {
				return nil, nil
			}
			v, ok := in[0].system()
			if !ok {
				return nil, nil
			}
			return Collection{v}, nil
		}},
		"defineVariable": {1, 2, false, func(e *env, c *call, in Collection) (Collection, error) {
			nameArg, err := c.arg(e, 0)
			if err != nil {
				return nil, err
			}
			if len(nameArg) != 1 {
				return nil, evalErrorf(c.at, "defineVariable() wants a name")
			}
			name := nameArg[0].String()
			if _, defined := e.lookup(name); defined || e.opt.Variables[name] != nil || systemVariable(name) {
				return nil, evalErrorf(c.at, "variable %%%s is already defined", name)
			}
			val := in
			if len(c.args) == 2 {
				if val, err = c.arg(e, 1); err != nil {
					return nil, err
				}
			}
			e.vars = &scope{name: name, val: val, next: e.vars}
			return in, nil
		}},
		"type": {0, 0, false, func(e *env, c *call, in Collection) (Collection, error) {
			out := make(Collection, 0, len(in))
			for _, v := range in {
				out = append(out, Value{kind: KindTypeInfo, s: v.TypeName()})
			}
			return out, nil
		}},
		"sort":         {0, -1, false, sortFn},
		"lowBoundary":  {0, 1, false, boundaryFn(false)},
		"highBoundary": {0, 1, false, boundaryFn(true)},
		"precision": {0, 0, false, func(e *env, c *call, in Collection) (Collection, error) {
			v, ok, err := singleSystem(c, in)
			if err != nil || !ok {
				return nil, err
			}
			switch v.kind {
			case KindDecimal:
				return Collection{intValue(int64(v.scale))}, nil
			case KindDate, KindDateTime, KindTime:
				t, ok := temporalOf(v)
				if !ok {
					return nil, nil
				}
				return Collection{intValue(int64(digitsOf(t)))}, nil
			}
			return nil, nil
		}},
		"comparable": {1, 1, false, func(e *env, c *call, in Collection) (Collection, error) {
			x, ok, err := singleSystem(c, in)
			if err != nil || !ok || x.kind != KindQuantity {
				return nil, err
			}
			o, err := c.arg(e, 0)
			if err != nil || len(o) != 1 {
				return nil, err
			}
			y, ok := o[0].system()
			if !ok || y.kind != KindQuantity {
				return nil, nil
			}
			_, _, ok = commensurable(x, y, true)
			return bools(ok), nil
		}},
		"resolve":    {0, 0, false, resolveFn},
		"memberOf":   {1, 1, false, memberOf},
		"htmlChecks": {0, 0, false, func(e *env, c *call, in Collection) (Collection, error) { return htmlChecks(in), nil }},
		"conformsTo": {1, 1, false, conformsTo},
	}
}

// call compiles a function invocation.
func (c *compiler) call(n *Call) (evalFn, error) {
	f, ok := functions[n.Name]
	if !ok {
		return nil, &SyntaxError{Pos: n.At, Msg: fmt.Sprintf("unknown function %s()", n.Name)}
	}
	if len(n.Args) < f.min || (f.max >= 0 && len(n.Args) > f.max) {
		return nil, &SyntaxError{Pos: n.At, Msg: fmt.Sprintf("%s() takes %d to %d arguments, got %d", n.Name, f.min, f.max, len(n.Args))}
	}
	cl := &call{at: n.At, name: n.Name, nodes: n.Args}
	if f.typeArg {
		ts, ok := typeSpecOf(n.Args[0])
		if !ok || !knownType(ts) {
			return nil, &SyntaxError{Pos: n.At, Msg: fmt.Sprintf("%s() wants a type name", n.Name)}
		}
		cl.ts = ts
	} else {
		for _, a := range n.Args {
			desc := false
			if u, ok := a.(*Unary); ok && u.Op == "-" && n.Name == "sort" {
				a, desc = u.X, true // sort(-key): descending
			}
			fn, err := c.compile(a)
			if err != nil {
				return nil, err
			}
			cl.args = append(cl.args, fn)
			cl.desc = append(cl.desc, desc)
		}
	}
	var target evalFn
	if n.Target != nil {
		var err error
		if target, err = c.compile(n.Target); err != nil {
			return nil, err
		}
	}
	return func(e *env, focus Collection) (Collection, error) {
		in := focus
		if target != nil {
			var err error
			if in, err = target(e, focus); err != nil {
				return nil, err
			}
		}
		if err := e.step(1); err != nil {
			return nil, err
		}
		// Arguments see the invocation's focus as $this; iif's see its
		// input (the R4 suite's testIif9 and testIif11).
		saveThis := e.this
		switch {
		case (n.Name == "iif" || n.Name == "defineVariable") && target != nil:
			e.this = in
		case target != nil || n.Target == nil:
			e.this = focus
		}
		out, err := f.fn(e, cl, in)
		e.this = saveThis
		return out, err
	}, nil
}

// systemVariable reports whether %name is one FHIRPath or FHIR defines.
func systemVariable(name string) bool {
	switch name {
	case "resource", "rootResource", "context", "ucum", "sct", "loinc":
		return true
	}
	return strings.HasPrefix(name, "vs-") || strings.HasPrefix(name, "ext-")
}

func bools(b bool) Collection  { return Collection{boolValue(b)} }
func strs(s string) Collection { return Collection{stringValue(s)} }

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func take(in Collection, from, n int) Collection {
	if from < 0 || from >= len(in) || n <= 0 {
		return nil
	}
	return in[from:min(from+n, len(in))]
}

func intArg(e *env, c *call, i int) (int64, bool, error) {
	a, err := c.arg(e, i)
	if err != nil {
		return 0, false, err
	}
	return singletonInt(c.at, a)
}

// boolAggregate builds allTrue and its kin from counts of true, false and
// other items.
func boolAggregate(f func(t, fl, n int) bool) func(*env, *call, Collection) (Collection, error) {
	return func(e *env, c *call, in Collection) (Collection, error) {
		t, fl := 0, 0
		for _, v := range in {
			s, ok := v.system()
			if !ok || s.kind != KindBoolean {
				return nil, evalErrorf(c.at, "%s() on %s", c.name, v.TypeName())
			}
			if s.bool() {
				t++
			} else {
				fl++
			}
		}
		return bools(f(t, fl, len(in))), nil
	}
}

// singleSystem reads the one input item as a System value.
func singleSystem(c *call, in Collection) (Value, bool, error) {
	switch len(in) {
	case 0:
		return Value{}, false, nil
	case 1:
		v, ok := in[0].system()
		if !ok {
			return Value{}, false, nil
		}
		return v, true, nil
	}
	return Value{}, false, evalErrorf(c.at, "%s() on %d items", c.name, len(in))
}

func singleString(c *call, in Collection) (string, bool, error) {
	if len(in) == 1 && in[0].isNode() && !isPrimitiveNode(in[0]) {
		return "", false, evalErrorf(c.at, "%s() on %s, not a string", c.name, in[0].TypeName())
	}
	v, ok, err := singleSystem(c, in)
	if err != nil || !ok {
		return "", false, err
	}
	if v.kind != KindString {
		return "", false, evalErrorf(c.at, "%s() on %s", c.name, v.TypeName())
	}
	return v.s, true, nil
}

func singleNumber(c *call, in Collection) (decimal, bool, error) {
	v, ok, err := singleSystem(c, in)
	if err != nil || !ok {
		return decimal{}, false, err
	}
	if !isNumber(v) {
		return decimal{}, false, evalErrorf(c.at, "%s() on %s", c.name, v.TypeName())
	}
	return numberOf(v), true, nil
}

// stringFn builds a function of a string input and n string arguments;
// any of them empty gives empty.
func stringFn(n int, f func(s string, args []string) Collection) func(*env, *call, Collection) (Collection, error) {
	return func(e *env, c *call, in Collection) (Collection, error) {
		s, ok, err := singleString(c, in)
		if err != nil || !ok {
			return nil, err
		}
		args := make([]string, n)
		for i := 0; i < n; i++ {
			a, err := c.arg(e, i)
			if err != nil || len(a) == 0 {
				return nil, err
			}
			if len(a) > 1 {
				return nil, evalErrorf(c.at, "%s() argument with %d items", c.name, len(a))
			}
			v, ok := a[0].system()
			if !ok || v.kind != KindString {
				return nil, evalErrorf(c.at, "%s() argument is not a string", c.name)
			}
			args[i] = v.s
		}
		return f(s, args), nil
	}
}

var regexCache sync.Map // pattern → *regexp.Regexp

// compileRegex compiles a FHIRPath regular expression (single-line mode:
// . matches new lines), cached.
func compileRegex(pattern string) (*regexp.Regexp, error) {
	if re, ok := regexCache.Load(pattern); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile("(?s)" + pattern)
	if err != nil {
		return nil, err
	}
	regexCache.Store(pattern, re)
	return re, nil
}

func regexFn(f func(re *regexp.Regexp, s string, args []string) Collection) func(*env, *call, Collection) (Collection, error) {
	return func(e *env, c *call, in Collection) (Collection, error) {
		var out Collection
		var rerr error
		_, err := stringFn(len(c.args), func(s string, args []string) Collection {
			re, err := compileRegex(args[0])
			if err != nil {
				rerr = evalErrorf(c.at, "%s(): %v", c.name, err)
				return nil
			}
			out = f(re, s, args[1:])
			return out
		})(e, c, in)
		if rerr != nil {
			return nil, rerr
		}
		return out, err
	}
}

func regexFull(e *env, c *call, in Collection) (Collection, error) {
	return regexFn(func(re *regexp.Regexp, s string, _ []string) Collection {
		loc := re.FindStringIndex(s)
		full, err := compileRegex("^(?:" + strings.TrimPrefix(re.String(), "(?s)") + ")$")
		if err != nil {
			return bools(false)
		}
		_ = loc
		return bools(full.MatchString(s))
	})(e, c, in)
}

// convertReplacement turns $1 references into Go's ${1}.
func convertReplacement(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '$' && i+1 < len(s) && isDigit(s[i+1]) {
			j := i + 1
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			b.WriteString("${" + s[i+1:j] + "}")
			i = j - 1
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mathFn applies an exact operation to an Integer or Decimal, keeping
// Integer for Integer input.
func mathFn(f func(decimal) (decimal, bool)) func(*env, *call, Collection) (Collection, error) {
	return func(e *env, c *call, in Collection) (Collection, error) {
		v, ok, err := singleSystem(c, in)
		if err != nil || !ok {
			return nil, err
		}
		switch v.kind {
		case KindInteger, KindLong:
			d, _ := f(decimalOf(v.i))
			return Collection{Value{kind: v.kind, i: d.c}}, nil
		case KindDecimal:
			d, ok := f(v.decimal())
			if !ok {
				return nil, nil
			}
			return Collection{decimalValue(d)}, nil
		case KindQuantity:
			d, ok := f(v.decimal())
			if !ok {
				return nil, nil
			}
			return Collection{quantityValue(d, v.s)}, nil
		}
		return nil, evalErrorf(c.at, "%s() on %s", c.name, v.TypeName())
	}
}

// intMathFn rounds a number to an Integer.
func intMathFn(f func(float64) float64) func(*env, *call, Collection) (Collection, error) {
	return func(e *env, c *call, in Collection) (Collection, error) {
		x, ok, err := singleNumber(c, in)
		if err != nil || !ok {
			return nil, err
		}
		if x.s == 0 {
			return Collection{intValue(x.c)}, nil
		}
		p := pow10[min(int(x.s), 18)]
		q := x.c / p
		exact := x.c%p == 0
		r := float64(q)
		if !exact {
			r = f(x.float())
		}
		return Collection{intValue(int64(r))}, nil
	}
}

// floatFn applies a real function; the result is a Decimal.
func floatFn(f func(float64) float64) func(*env, *call, Collection) (Collection, error) {
	return func(e *env, c *call, in Collection) (Collection, error) {
		x, ok, err := singleNumber(c, in)
		if err != nil || !ok {
			return nil, err
		}
		return floatResult(f(x.float()))
	}
}

func floatResult(r float64) (Collection, error) {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return nil, nil
	}
	d, err := parseDecimal(strconv.FormatFloat(r, 'f', maxScale, 64))
	if err != nil {
		return nil, nil
	}
	return Collection{decimalValue(d.trim(0))}, nil
}

// allChildren lists every child element of each node, in document order.
func allChildren(e *env, in Collection) (Collection, error) {
	var out Collection
	for _, v := range in {
		if !v.isNode() || v.ref.doc == nil || v.ref.Kind() != JSONObject {
			continue
		}
		var names []string
		v.ref.Each(func(name string, _ JSONRef) bool {
			if name != "resourceType" && !strings.HasPrefix(name, "_") {
				names = append(names, name)
			}
			return true
		})
		for _, name := range names {
			before := len(out)
			var err error
			if out, err = children(e, v, name, out); err != nil {
				return nil, err
			}
			if len(out) == before {
				// A choice element named with its type, or an element the
				// definitions do not know: try the choice base name.
				for _, t := range choicePrefixes(name) {
					if out, err = children(e, v, t, out); err != nil {
						return nil, err
					}
					if len(out) > before {
						break
					}
				}
			}
		}
	}
	return out, nil
}

// choicePrefixes returns the possible base names of a choice element
// name (valueQuantity → value).
func choicePrefixes(name string) []string {
	var out []string
	for i := len(name) - 1; i > 0; i-- {
		if name[i] >= 'A' && name[i] <= 'Z' {
			out = append(out, name[:i])
		}
	}
	return out
}

// sortValues orders a collection for sort(): numbers, strings and dates.
func sortValues(in Collection) {
	sort.SliceStable(in, func(i, j int) bool {
		c, known, err := compareValues(0, in[i], in[j])
		return err == nil && known && c < 0
	})
}

// subsetFn is subsetOf (every input item is in the argument) or, with
// super, supersetOf (every argument item is in the input).
func subsetFn(super bool) func(*env, *call, Collection) (Collection, error) {
	return func(e *env, c *call, in Collection) (Collection, error) {
		other, err := c.arg(e, 0)
		if err != nil {
			return nil, err
		}
		items, of := in, other
		if super {
			items, of = other, in
		}
		for _, v := range items {
			if ok, err := e.contains(of, v); err != nil || !ok {
				return bools(false), err
			}
		}
		return bools(true), nil
	}
}

// membershipFn is intersect (the input items that are in the argument,
// each once) or, with in false, exclude (the input items that are not in
// the argument, in order, repeats kept).
func membershipFn(in bool) func(*env, *call, Collection) (Collection, error) {
	return func(e *env, c *call, input Collection) (Collection, error) {
		other, err := c.arg(e, 0)
		if err != nil {
			return nil, err
		}
		var out Collection
		for _, v := range input {
			inOther, err := e.contains(other, v)
			if err != nil {
				return nil, err
			}
			if inOther == in && (!in || !containsValue(out, v)) {
				out = append(out, v)
			}
		}
		return out, nil
	}
}
