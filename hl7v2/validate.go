package hl7v2

import (
	"bytes"
	"slices"
	"strconv"
)

// ValidateOptions tune Validate.
type ValidateOptions struct {
	// Strict turns warnings about unknown segments and unknown structures
	// into errors.
	Strict bool
}

// Limits on the work Validate does and the issues it reports, so that a
// hostile message cannot make it run or allocate without bound.
const (
	// maxIssues caps the issues Validate returns; one more issue says
	// that further problems were not listed.
	maxIssues = 100
	// maxSequenceIssues caps segment sequence issues; the structure check
	// stops there.
	maxSequenceIssues = 50
	// maxMatchSteps caps the automaton steps of the structure check: one
	// per segment read, and for a message too long to align (see
	// alignBudget) one per segment of each recovery path and of each look
	// ahead. A message that exceeds it gets the issue "message too complex
	// to check" and no further sequence checks.
	maxMatchSteps = 4 * MaxSegments
)

// Validate checks m against the HL7 v2 standard and returns the problems
// found, in message order:
//
//   - the header: MSH-7, MSH-9, MSH-10, MSH-11 and MSH-12 present, MSH-7 a
//     valid date/time, processing ID (table 0103), version (table 0104)
//     and acknowledgment conditions (table 0155) known;
//   - the message type and trigger event known (tables 0076 and 0003);
//   - the segments in the order, number and groups the abstract message
//     structure allows (Z-segments are allowed anywhere);
//   - the data types of the common fields (dates, times, numbers, sequence
//     IDs), the codes of fields bound to HL7 tables, and OBX-5 against
//     OBX-2.
//
// Each issue carries its location and an HL7 table 0357 code; AckCodeFor
// turns them into an acknowledgment code. Validate never modifies m and
// handles any message Parse returns.
func Validate(m *Message, opt ValidateOptions) []Issue {
	if m == nil || len(m.segs) == 0 {
		return []Issue{{Location: Location{Segment: "MSH", Seq: 1}, Code: CodeSegmentSequence, Severity: SeverityError,
			Text: "the message has no MSH segment"}}
	}
	v := &validator{m: m, opt: opt, version: m.Version()}
	if m.segs[0].name != [3]byte{'M', 'S', 'H'} {
		v.add(0, 0, Issue{Location: Location{Segment: string(m.segs[0].name[:]), Seq: 1}, Code: CodeSegmentSequence,
			Severity: SeverityError, Text: "a message must start with an MSH segment"})
		return v.result()
	}
	v.checkHeader()
	if st, check := v.checkMessageType(); check {
		v.checkStructure(st, maxMatchSteps)
	}
	v.checkFields()
	return v.result()
}

// AckCodeFor returns the acknowledgment code issues call for: AR when any
// issue rejects the message outright (unsupported message type, event,
// processing ID or version: codes 200 to 203), AE when any issue has
// severity E, else AA. In enhanced mode the caller maps these to the
// commit codes CA, CE and CR.
func AckCodeFor(issues []Issue) AckCode {
	code := AA
	for _, is := range issues {
		if is.Severity == SeverityWarning || is.Severity == SeverityInformation {
			continue
		}
		if is.Code >= CodeUnsupportedMessage && is.Code <= CodeUnsupportedVersion {
			return AR
		}
		code = AE
	}
	return code
}

// validator holds the state of one Validate call.
type validator struct {
	m       *Message
	opt     ValidateOptions
	version string
	issues  []placedIssue
	fields  int   // field issues so far
	occ     []int // occurrence of each segment among those of its ID, computed on first need
	scratch []byte
}

// placedIssue is an issue with its place in the message, for sorting:
// the segment index, then a key within the segment (-1 before it, 0 the
// segment itself, else the field number).
type placedIssue struct {
	seg, key int
	Issue
}

func (v *validator) add(seg, key int, is Issue) {
	v.issues = append(v.issues, placedIssue{seg, key, is})
}

// result sorts the issues into message order and caps their number.
func (v *validator) result() []Issue {
	slices.SortStableFunc(v.issues, func(a, b placedIssue) int {
		if a.seg != b.seg {
			return a.seg - b.seg
		}
		return a.key - b.key
	})
	if len(v.issues) == 0 {
		return nil
	}
	n := min(len(v.issues), maxIssues)
	out := make([]Issue, 0, n+1)
	for _, p := range v.issues[:n] {
		out = append(out, p.Issue)
	}
	if len(v.issues) > maxIssues {
		first := v.issues[maxIssues].Issue
		out = append(out, Issue{Code: first.Code, Severity: first.Severity,
			Text: "more than " + strconv.Itoa(maxIssues) + " problems: the rest are not listed"})
	}
	return out
}

// occurrence returns which segment of its ID segment i is (1-based).
func (v *validator) occurrence(i int) int {
	if v.occ == nil {
		v.occ = make([]int, len(v.m.segs))
		counts := map[[3]byte]int{}
		for j := range v.m.segs {
			counts[v.m.segs[j].name]++
			v.occ[j] = counts[v.m.segs[j].name]
		}
	}
	return v.occ[i]
}

// text returns the decoded bytes of a value without leading and trailing
// spaces, without copying when it holds no escape sequence. The result is
// valid until the next call.
func (v *validator) text(val Value) []byte {
	if bytes.IndexByte(val.raw, val.d.Escape) < 0 {
		return trimSpaces(val.raw)
	}
	v.scratch = Unescape(v.scratch[:0], val.raw, &val.d)
	return trimSpaces(v.scratch)
}

func (v *validator) severity(warn bool) Severity {
	if warn && !v.opt.Strict {
		return SeverityWarning
	}
	return SeverityError
}

// checkHeader checks the MSH fields every message needs.
func (v *validator) checkHeader() {
	h := v.m.header()
	loc := func(field, comp int) Location {
		return Location{Segment: "MSH", Seq: 1, Field: field, Component: comp}
	}
	required := func(field, comp int, what string) {
		v.add(0, field, Issue{Location: loc(field, comp), Code: CodeRequiredFieldMissing, Severity: SeverityError,
			Text: "MSH-" + fieldName(field, comp) + " (" + what + ") is required"})
	}
	atLeast := func(version string) bool { return v.version != "" && compareVersion(v.version, version) >= 0 }

	// MSH-7: date/time of message, required from v2.4.
	if t := h.Field(7); t.IsEmpty() {
		if atLeast("2.4") {
			required(7, 0, "date/time of message")
		}
	} else if c := t.Component(1); !c.IsNull() && len(v.text(c)) > 0 && !validDTM(v.text(c)) {
		v.add(0, 7, Issue{Location: loc(7, 0), Code: CodeDataType, Severity: SeverityError,
			Text: "MSH-7 " + strconv.Quote(c.String()) + " is not a valid " + typeDTM.String()})
	}
	// MSH-9: message type and trigger event.
	code, trigger, _ := v.m.MessageType()
	if code == "" {
		required(9, 1, "message code")
	} else if trigger == "" && code != "ACK" && atLeast("2.3") {
		required(9, 2, "trigger event")
	}
	// MSH-10: message control ID.
	if h.Field(10).IsEmpty() {
		required(10, 0, "message control ID")
	}
	// MSH-11: processing ID, table 0103.
	if p := h.Field(11); p.IsEmpty() {
		required(11, 0, "processing ID")
	} else if c := p.Component(1); !c.IsNull() && len(v.text(c)) > 0 {
		id := v.text(c)
		if !table0103.codes[string(id)] && !(atLeast("2.9") && (string(id) == "N" || string(id) == "V")) {
			v.add(0, 11, Issue{Location: loc(11, 1), Code: CodeUnsupportedProcID, Severity: SeverityError,
				Text: "MSH-11 processing ID " + strconv.Quote(string(id)) + " is not in table 0103 (P, T, D)"})
		}
	}
	// MSH-12: version ID, table 0104.
	if vid := h.Field(12); vid.IsEmpty() {
		required(12, 0, "version ID")
	} else if c := vid.Component(1); !c.IsNull() && len(v.text(c)) > 0 && !table0104.codes[string(v.text(c))] {
		v.add(0, 12, Issue{Location: loc(12, 1), Code: CodeUnsupportedVersion, Severity: SeverityError,
			Text: "MSH-12 version " + strconv.Quote(c.String()) + " is not a version Concord supports (2.1 to 2.9)"})
	}
	// MSH-15 and MSH-16: acknowledgment conditions, table 0155.
	for _, field := range []int{15, 16} {
		if f := h.Field(field); !f.IsNull() && len(v.text(f)) > 0 && !table0155.codes[string(v.text(f))] {
			v.add(0, field, Issue{Location: loc(field, 0), Code: CodeTableValue, Severity: SeverityError,
				Text: "MSH-" + strconv.Itoa(field) + " " + strconv.Quote(f.String()) + " is not in table 0155 (AL, NE, ER, SU)"})
		}
	}
}

// fieldName writes "9.2" for field 9, component 2 ("9" without one).
func fieldName(field, comp int) string {
	if comp == 0 {
		return strconv.Itoa(field)
	}
	return strconv.Itoa(field) + "." + strconv.Itoa(comp)
}

// checkMessageType checks MSH-9 against the known message types and
// events and returns the structure to check the message against, and
// whether to check it.
func (v *validator) checkMessageType() (*structure, bool) {
	code, trigger, declared := v.m.MessageType()
	if code == "" {
		return nil, false
	}
	loc := func(comp int) Location { return Location{Segment: "MSH", Seq: 1, Field: 9, Component: comp} }
	if !knownMessageCode(code) {
		v.add(0, 9, Issue{Location: loc(1), Code: CodeUnsupportedMessage, Severity: SeverityError,
			Text: "message type " + strconv.Quote(code) + " is not an HL7 message type Concord knows"})
		return nil, false
	}
	structs, known := eventStructures(code, trigger, v.version)
	if trigger != "" && !known {
		v.add(0, 9, Issue{Location: loc(2), Code: CodeUnsupportedEvent, Severity: SeverityError,
			Text: "trigger event " + strconv.Quote(trigger) + " is not defined for message type " + code})
		return nil, false
	}
	id, eventNamed := resolveStructure(v.m)
	if eventNamed {
		v.add(0, 9, Issue{Location: loc(3), Code: CodeTableValue, Severity: SeverityInformation,
			Text: "MSH-9.3 " + strconv.Quote(declared) + " names the event, not a message structure (table 0354); checked as " + id})
	} else if declared != "" && len(structs) > 0 && !slices.Contains(structs, declared) && structureDefs[declared] != "" {
		v.add(0, 9, Issue{Location: loc(3), Code: CodeTableValue, Severity: SeverityWarning,
			Text: "MSH-9.3 " + declared + " is not the structure of " + code + "^" + trigger + " (" + structs[0] + ")"})
	}
	st := lookupStructure(id)
	if st == nil {
		what := "message structure " + strconv.Quote(id)
		if id == "" {
			what = "the message structure of " + code
		}
		v.add(0, 9, Issue{Location: loc(3), Code: CodeTableValue, Severity: v.unknownSeverity(),
			Text: what + " is not one Concord knows: segment order not checked"})
		v.checkSegmentIDs()
		return nil, false
	}
	return st, true
}

// unknownSeverity is the severity of an unknown structure: information,
// or an error when strict.
func (v *validator) unknownSeverity() Severity {
	if v.opt.Strict {
		return SeverityError
	}
	return SeverityInformation
}

// checkSegmentIDs warns of segments HL7 does not define, for messages
// whose structure is not known.
func (v *validator) checkSegmentIDs() {
	for i := 1; i < len(v.m.segs); i++ {
		name := v.m.segs[i].name
		if name[0] == 'Z' || hl7Segments[string(name[:])] {
			continue
		}
		v.add(i, 0, Issue{Location: Location{Segment: string(name[:]), Seq: v.occurrence(i)}, Code: CodeSegmentSequence,
			Severity: v.severity(true), Text: "segment " + string(name[:]) + " is not an HL7 segment"})
		if len(v.issues) >= maxIssues {
			return
		}
	}
}

// checkStructure runs the structure's automaton over the segment IDs
// and reports where the message departs from it. budget caps the steps.
func (v *validator) checkStructure(st *structure, budget int) {
	segs := v.m.segs
	nsym := len(st.names)
	syms := make([]int16, len(segs)) // symbol of each segment; -1 not in the structure, -2 a Z-segment
	lastAt := make([]int, nsym)      // index of the last segment of each symbol
	for i := range lastAt {
		lastAt[i] = -1
	}
	for i := range segs {
		name := segs[i].name
		switch s, ok := st.syms[name]; {
		case name[0] == 'Z':
			syms[i] = -2
		case !ok:
			syms[i] = -1
		default:
			syms[i] = s
			lastAt[s] = i
		}
	}
	// Fast path: the message fits.
	state, fits := int32(0), true
	for i, y := range syms {
		if i >= budget {
			v.add(i, 0, Issue{Location: Location{Segment: string(segs[i].name[:]), Seq: v.occurrence(i)},
				Code: CodeSegmentSequence, Severity: SeverityError, Text: "message too complex to check: structure check stopped"})
			return
		}
		if y == -2 {
			continue
		}
		if y < 0 || st.next[int(state)*nsym+int(y)] < 0 {
			fits = false
			break
		}
		state = st.next[int(state)*nsym+int(y)]
	}
	if fits && st.accept[state] {
		return
	}
	n := len(st.accept)
	var edits []edit
	if work := (len(segs) + 1) * (n*n + n*nsym); work <= alignBudget && work <= budget*alignPerStep {
		edits = st.align(syms, lastAt)
	}
	if edits == nil {
		edits = st.recover(syms, lastAt, budget)
	}
	v.report(st, syms, edits)
}

// alignBudget caps the work of the optimal alignment (cells times
// transitions); longer messages get the linear recovery instead.
// alignPerStep relates it to the step budget of checkStructure.
const (
	alignBudget  = 8 << 20
	alignPerStep = 64
)

// edit is one step of a way to fit a message to a structure: a segment
// read, skipped (out of place), or inserted (missing) before segment pos.
type edit struct {
	op  byte // 'r' read, 's' skip, 'i' insert, 'z' Z-segment passed over, 'x' stopped: too complex
	pos int
	sym int16
}

// Edit costs: reading is free, skipping a segment costs skipCost, and
// inserting one costs insertCost, or one more when that segment comes
// later in the message (it is more likely misplaced than missing).
const (
	skipCost   = 2
	insertCost = 2
)

// align finds a cheapest sequence of edits that fits syms to st: a
// shortest path over (position, state), by dynamic programming with a
// Dijkstra closure for insertions at each position.
func (st *structure) align(syms []int16, lastAt []int) []edit {
	const inf = int32(1) << 30
	n, nsym := len(st.accept), len(st.names)
	type back struct {
		prev int32
		op   byte
		sym  int16
	}
	backs := make([]back, (len(syms)+1)*n)
	cost := make([]int32, n)
	next := make([]int32, n)
	// last and nextLast hold the position of the latest edit on each
	// state's path: among equally cheap ways, the one whose edits come
	// latest wins, as a reader of the message would notice the problem.
	last := make([]int32, n)
	nextLast := make([]int32, n)
	done := make([]bool, n)
	better := func(c, l, oc, ol int32) bool { return c < oc || c == oc && l > ol }
	for s := range cost {
		cost[s] = inf
	}
	cost[0] = 0
	// closure adds the insertions at position pos: Dijkstra's algorithm
	// with a bucket per cost (costs are small integers), each bucket taken
	// in order of latest edit first.
	var buckets [][]int32
	closure := func(pos int) {
		layer := backs[pos*n : (pos+1)*n]
		clear(done)
		low := inf
		for s := 0; s < n; s++ {
			low = min(low, cost[s])
		}
		if low == inf {
			return
		}
		for b := range buckets {
			buckets[b] = buckets[b][:0]
		}
		push := func(s int32) {
			b := int(cost[s] - low)
			for len(buckets) <= b {
				buckets = append(buckets, nil)
			}
			buckets[b] = append(buckets[b], s)
		}
		for s := 0; s < n; s++ {
			if cost[s] < inf {
				push(int32(s))
			}
		}
		for b := 0; b < len(buckets); b++ {
			bucket := buckets[b]
			slices.SortStableFunc(bucket, func(x, y int32) int { return int(last[y] - last[x]) })
			for _, s := range bucket {
				if done[s] || int(cost[s]-low) != b {
					continue
				}
				done[s] = true
				for k := st.outFrom[s]; k < st.outFrom[s+1]; k++ {
					y, t := st.outSym[k], st.outTo[k]
					if done[t] {
						continue
					}
					c := cost[s] + insertCost
					if lastAt[y] >= pos {
						c++
					}
					if better(c, int32(pos), cost[t], last[t]) {
						cost[t], last[t] = c, int32(pos)
						layer[t] = back{s, 'i', int16(y)}
						push(t)
					}
				}
			}
		}
	}
	closure(0)
	for i, y := range syms {
		layer := backs[(i+1)*n : (i+2)*n]
		for s := range next {
			next[s] = inf
		}
		for s := 0; s < n; s++ {
			c := cost[s]
			if c == inf {
				continue
			}
			if y == -2 {
				next[s], nextLast[s] = c, last[s]
				layer[s] = back{int32(s), 'z', y}
				continue
			}
			if better(c+skipCost, int32(i), next[s], nextLast[s]) {
				next[s], nextLast[s] = c+skipCost, int32(i)
				layer[s] = back{int32(s), 's', y}
			}
		}
		for s := 0; s < n && y >= 0; s++ {
			c := cost[s]
			if c == inf {
				continue
			}
			if t := st.next[s*nsym+int(y)]; t >= 0 && better(c, last[s], next[t], nextLast[t]) {
				next[t], nextLast[t] = c, last[s]
				layer[t] = back{int32(s), 'r', y}
			}
		}
		cost, next = next, cost
		last, nextLast = nextLast, last
		closure(i + 1)
	}
	best := -1
	for s := 0; s < n; s++ {
		if st.accept[s] && cost[s] < inf && (best < 0 || cost[s] < cost[best]) {
			best = s
		}
	}
	if best < 0 {
		return nil
	}
	var edits []edit
	for pos, s := len(syms), int32(best); ; {
		b := backs[pos*n+int(s)]
		if b.op == 0 { // the start: position 0, state 0
			break
		}
		if b.op != 'i' {
			pos--
		}
		edits = append(edits, edit{b.op, pos, b.sym})
		s = b.prev
	}
	slices.Reverse(edits)
	return edits
}

// recover fits syms to st in one pass, for messages too long to align.
// Where the automaton cannot read a segment, it either skips the segment
// (out of place) or inserts the shortest run of missing segments that
// lets it be read, whichever costs less (as align counts) once the rest
// of the message is read up to its next problem. budget caps the steps.
func (st *structure) recover(syms []int16, lastAt []int, budget int) []edit {
	nsym := len(st.names)
	var edits []edit
	var path []int16
	state, steps := int32(0), 0
	// rest reads syms[from:] from state s without recovery and returns
	// what the first problem (or the segments missing at the end) costs.
	rest := func(s int32, from int) int {
		for j := from; j < len(syms) && steps <= budget; j++ {
			steps++
			y := syms[j]
			if y == -2 {
				continue
			}
			if y < 0 || st.next[int(s)*nsym+int(y)] < 0 {
				return skipCost
			}
			s = st.next[int(s)*nsym+int(y)]
		}
		n := 0
		for ; !st.accept[s] && st.toEnd[s] >= 0 && n <= len(st.accept); n++ {
			s = st.next[int(s)*nsym+int(st.toEnd[s])]
		}
		return insertCost * n
	}
	for i, y := range syms {
		steps++
		if steps > budget {
			return append(edits, edit{'x', i, y})
		}
		if y == -2 {
			edits = append(edits, edit{'z', i, y})
			continue
		}
		if y >= 0 {
			if t := st.next[int(state)*nsym+int(y)]; t >= 0 {
				state = t
				edits = append(edits, edit{'r', i, y})
				continue
			}
		}
		// Compare skipping segment i with inserting the path that lets
		// it be read; the second look ahead is taken only when the
		// insertion alone is cheaper than skipping.
		skip := skipCost + rest(state, i+1)
		path = path[:0]
		insert := -1 // cost of inserting path, -1 when no path exists
		if y >= 0 && st.via[int(state)*nsym+int(y)] != viaNone {
			s := state
			insert = 0
			for st.via[int(s)*nsym+int(y)] != viaReads && len(path) <= len(st.accept) {
				h := st.via[int(s)*nsym+int(y)]
				path = append(path, h)
				insert += insertCost
				if lastAt[h] > i {
					insert++
				}
				s = st.next[int(s)*nsym+int(h)]
			}
			steps += len(path)
			if insert < skip {
				insert += rest(st.next[int(s)*nsym+int(y)], i+1)
			}
		}
		if insert < 0 || skip <= insert {
			edits = append(edits, edit{'s', i, y})
			continue
		}
		for _, h := range path {
			edits = append(edits, edit{'i', i, h})
			state = st.next[int(state)*nsym+int(h)]
		}
		state = st.next[int(state)*nsym+int(y)]
		edits = append(edits, edit{'r', i, y})
	}
	for n := 0; !st.accept[state] && n <= len(st.accept); n++ {
		h := st.toEnd[state]
		if h < 0 {
			break
		}
		edits = append(edits, edit{'i', len(syms), h})
		state = st.next[int(state)*nsym+int(h)]
	}
	return edits
}

// report turns edits into issues: a skipped segment is out of place, an
// inserted one missing, unless a segment of that ID was reported out of
// place (it is misplaced, not missing).
func (v *validator) report(st *structure, syms []int16, edits []edit) {
	segs := v.m.segs
	misplaced := make([]bool, len(st.names))
	for _, e := range edits {
		if e.op == 's' && e.sym >= 0 {
			misplaced[e.sym] = true
		}
	}
	count := make([]int, len(st.names))
	issues := 0
	add := func(seg, key int, is Issue) bool {
		if issues == maxSequenceIssues {
			is.Text = "more than " + strconv.Itoa(maxSequenceIssues) + " segment sequence errors: structure check stopped"
			v.add(seg, key, is)
			return false
		}
		issues++
		v.add(seg, key, is)
		return true
	}
	for _, e := range edits {
		switch e.op {
		case 'r':
			count[e.sym]++
		case 'i':
			count[e.sym]++
			if misplaced[e.sym] {
				continue
			}
			if !add(e.pos, -1, Issue{Location: Location{Segment: st.names[e.sym], Seq: count[e.sym]}, Code: CodeSegmentSequence,
				Severity: SeverityError, Text: "required segment " + st.names[e.sym] + " missing"}) {
				return
			}
		case 's', 'x':
			name := string(segs[e.pos].name[:])
			text := "segment " + name + " is out of place in " + st.id
			switch {
			case e.op == 'x':
				text = "message too complex to check: structure check stopped"
			case e.sym < 0 && hl7Segments[name]:
				text = "segment " + name + " is not part of " + st.id
			case e.sym < 0:
				text = "segment " + name + " is not an HL7 segment and not part of " + st.id
			}
			if !add(e.pos, 0, Issue{Location: Location{Segment: name, Seq: v.occurrence(e.pos)}, Code: CodeSegmentSequence,
				Severity: SeverityError, Text: text}) || e.op == 'x' {
				return
			}
		}
	}
}

// checkFields checks the typed fields of every segment but MSH.
func (v *validator) checkFields() {
	for i := 1; i < len(v.m.segs); i++ {
		name := v.m.segs[i].name
		rules := segmentFields[string(name[:])]
		isOBX := name == [3]byte{'O', 'B', 'X'}
		if rules == nil && !isOBX {
			continue
		}
		s := Segment{m: v.m, i: i}
		last := s.FieldCount()
		for _, r := range rules {
			if r.field > last {
				break
			}
			if f := s.Field(r.field); len(f.raw) > 0 {
				v.checkField(i, r, f)
			}
		}
		if isOBX {
			v.checkObservationValue(i, s)
		}
		if v.fields > maxIssues {
			return
		}
	}
}

// fieldIssue records a problem with a field of segment i.
func (v *validator) fieldIssue(i, field, rep, comp int, code Code, sev Severity, text string) {
	name := string(v.m.segs[i].name[:])
	v.add(i, field, Issue{Location: Location{Segment: name, Seq: v.occurrence(i), Field: field, Rep: rep, Component: comp},
		Code: code, Severity: sev, Text: name + "-" + strconv.Itoa(field) + " " + text})
	v.fields++
}

// checkField checks each repetition of a field against its rule.
func (v *validator) checkField(i int, r fieldRule, f Value) {
	reps := f.Reps()
	n := 0
	for rep := range f.EachRep {
		n++
		repNo := 0
		if reps > 1 {
			repNo = n
		}
		composite := bytes.IndexByte(rep.raw, rep.d.Component) >= 0
		if r.typ == typeDR {
			for comp := 1; comp <= 2; comp++ {
				c := rep.Component(comp).Sub(1)
				if c.IsEmpty() || c.IsNull() {
					continue
				}
				if b := v.text(c); len(b) > 0 && !validDTM(b) {
					v.fieldIssue(i, r.field, repNo, comp, CodeDataType, SeverityError,
						strconv.Quote(string(b))+" is not a valid "+typeDTM.String())
				}
			}
			continue
		}
		c := rep.Component(1)
		if c.IsEmpty() || c.IsNull() {
			continue
		}
		comp := 0
		if composite {
			comp = 1
		}
		b := v.text(c)
		if len(b) == 0 {
			continue
		}
		if r.typ == typeCode {
			if !r.table.codes[string(b)] {
				sev, kind := SeverityError, "table "
				if r.table.user {
					sev, kind = SeverityWarning, "user-defined table "
				}
				v.fieldIssue(i, r.field, repNo, comp, CodeTableValue, sev,
					strconv.Quote(string(b))+" is not in "+kind+r.table.id+" ("+r.table.name+")")
			}
			continue
		}
		if !validValue(r.typ, b) {
			v.fieldIssue(i, r.field, repNo, comp, CodeDataType, SeverityError,
				strconv.Quote(string(b))+" is not a valid "+r.typ.String())
		}
	}
}

// validValue checks a primitive value of type t.
func validValue(t fieldType, b []byte) bool {
	switch t {
	case typeDT:
		return validDT(b)
	case typeDTM:
		return validDTM(b)
	case typeTM:
		return validTM(b)
	case typeNM:
		return validNM(b)
	case typeSI:
		return validSI(b)
	}
	return true
}

// observationTypes maps the OBX-2 value types whose OBX-5 is a primitive
// value to the check it gets.
var observationTypes = map[string]fieldType{"NM": typeNM, "DT": typeDT, "DTM": typeDTM, "TS": typeDTM, "TM": typeTM}

// Comparators and separators of the SN data type (HL7 v2.5.1 section
// 2.A.72).
var (
	snComparators = map[string]bool{">": true, "<": true, ">=": true, "<=": true, "=": true, "<>": true}
	snSeparators  = map[string]bool{"-": true, "+": true, "/": true, ".": true, ":": true}
)

// checkObservationValue checks OBX-5 against the value type in OBX-2
// (HL7 v2.5.1 section 7.4.2): numbers, dates and times must parse, a
// structured numeric must have its parts in place, and a coded value
// needs a code or a text.
func (v *validator) checkObservationValue(i int, s Segment) {
	value := s.Field(5)
	if len(value.raw) == 0 || value.IsNull() {
		return
	}
	vt := s.Field(2).Component(1)
	if vt.IsEmpty() {
		v.fieldIssue(i, 2, 0, 0, CodeRequiredFieldMissing, SeverityError, "(value type) is required when OBX-5 is valued")
		return
	}
	typ := string(v.text(vt))
	if !table0125.codes[typ] {
		return // reported as a table value
	}
	reps := value.Reps()
	n := 0
	for rep := range value.EachRep {
		n++
		repNo := 0
		if reps > 1 {
			repNo = n
		}
		if len(rep.raw) == 0 || rep.IsNull() {
			continue
		}
		switch typ {
		case "NM", "DT", "DTM", "TS", "TM":
			t := observationTypes[typ]
			if b := v.text(rep.Component(1)); len(b) > 0 && !validValue(t, b) {
				v.fieldIssue(i, 5, repNo, 0, CodeDataType, SeverityError,
					strconv.Quote(string(b))+" is not a valid "+t.String()+" as OBX-2 "+typ+" requires")
			}
		case "CE", "CWE", "CNE":
			ok := false
			for _, comp := range []int{1, 2, 4, 5, 9} {
				if c := rep.Component(comp); !c.IsEmpty() {
					ok = true
					break
				}
			}
			if !ok {
				v.fieldIssue(i, 5, repNo, 0, CodeDataType, SeverityError,
					"has neither a code nor a text, as OBX-2 "+typ+" requires")
			}
		case "SN":
			v.checkStructuredNumeric(i, repNo, rep)
		}
	}
}

// checkStructuredNumeric checks one SN value: comparator ^ number ^
// separator/suffix ^ number.
func (v *validator) checkStructuredNumeric(i, repNo int, rep Value) {
	bad := func(comp int, text string) {
		v.fieldIssue(i, 5, repNo, comp, CodeDataType, SeverityError, text+", as OBX-2 SN requires")
	}
	if c := string(v.text(rep.Component(1))); c != "" && !snComparators[c] {
		bad(1, "comparator "+strconv.Quote(c)+" is not one of > < >= <= = <>")
	}
	if c := string(v.text(rep.Component(3))); c != "" && !snSeparators[c] {
		bad(3, "separator "+strconv.Quote(c)+" is not one of - + / . :")
	}
	numbers := 0
	for _, comp := range []int{2, 4} {
		c := rep.Component(comp)
		if c.IsEmpty() {
			continue
		}
		numbers++
		if b := v.text(c); !validNM(b) {
			bad(comp, strconv.Quote(string(b))+" is not a number")
		}
	}
	if numbers == 0 {
		bad(2, "has no number")
	}
}
