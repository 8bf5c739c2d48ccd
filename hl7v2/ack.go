package hl7v2

import (
	"bytes"
	"strconv"
	"time"
	"unicode/utf8"
)

// AckCode is MSA-1, the acknowledgment code (HL7 table 0008).
type AckCode string

// Acknowledgment codes: original mode (AA, AE, AR) and the commit codes of
// enhanced mode (CA, CE, CR).
const (
	AA AckCode = "AA" // application accept
	AE AckCode = "AE" // application error
	AR AckCode = "AR" // application reject
	CA AckCode = "CA" // commit accept
	CE AckCode = "CE" // commit error
	CR AckCode = "CR" // commit reject
)

// Code is an HL7 error code (table 0357, "Message Error Condition Codes"),
// carried in ERR-3.
type Code int

// The codes of table 0357.
const (
	CodeAccepted             Code = 0
	CodeSegmentSequence      Code = 100 // segment sequence error
	CodeRequiredFieldMissing Code = 101
	CodeDataType             Code = 102 // data type error
	CodeTableValue           Code = 103 // table value not found
	CodeValueTooLong         Code = 104
	CodeUnsupportedMessage   Code = 200 // unsupported message type
	CodeUnsupportedEvent     Code = 201
	CodeUnsupportedProcID    Code = 202 // unsupported processing ID
	CodeUnsupportedVersion   Code = 203
	CodeUnknownKey           Code = 204
	CodeDuplicateKey         Code = 205
	CodeRecordLocked         Code = 206
	CodeApplicationError     Code = 207 // application internal error

	// CodeUnsupportedCharset has no code of its own in table 0357; a
	// character set Concord cannot read is reported as a data type error.
	CodeUnsupportedCharset = CodeDataType
)

var codeText = map[Code]string{
	CodeAccepted: "Message accepted", CodeSegmentSequence: "Segment sequence error",
	CodeRequiredFieldMissing: "Required field missing", CodeDataType: "Data type error",
	CodeTableValue: "Table value not found", CodeValueTooLong: "Value too long",
	CodeUnsupportedMessage: "Unsupported message type", CodeUnsupportedEvent: "Unsupported event code",
	CodeUnsupportedProcID: "Unsupported processing id", CodeUnsupportedVersion: "Unsupported version id",
	CodeUnknownKey: "Unknown key identifier", CodeDuplicateKey: "Duplicate key identifier",
	CodeRecordLocked: "Application record locked", CodeApplicationError: "Application internal error",
}

// Text returns the code's description from table 0357.
func (c Code) Text() string { return codeText[c] }

// Severity is ERR-4 (HL7 table 0516).
type Severity string

// The severities of table 0516.
const (
	SeverityError       Severity = "E"
	SeverityWarning     Severity = "W"
	SeverityInformation Severity = "I"
)

// Location is where a problem is: ERR-2 (ERL) in v2.5 and later.
type Location struct {
	Segment   string // segment ID
	Seq       int    // which segment of that ID, 1-based
	Field     int
	Rep       int
	Component int
	Sub       int
}

// Issue is one problem with a received message, reported in an ERR
// segment.
type Issue struct {
	Location Location
	Code     Code
	Severity Severity
	Text     string // diagnostic for people (ERR-8, or MSA-3 before v2.5)
}

// AckOptions are the parts of an acknowledgment the receiver chooses.
type AckOptions struct {
	ControlID string    // MSH-10 of the acknowledgment
	Time      time.Time // MSH-7; time.Now when zero
	// Application and Facility, when set, replace the sending application
	// and facility of the acknowledgment (otherwise the received message's
	// receiving application and facility).
	Application, Facility string
}

// Ack builds the acknowledgment of m (HL7 v2.8 section 2.9): sender and
// receiver swapped, the message's processing ID and version echoed, MSA-2
// set to m's control ID and one ERR segment per issue, in the form m's
// version expects (ERR-2 and ERR-3 from v2.5, ERR-1 before).
func (m *Message) Ack(code AckCode, issues []Issue, opt AckOptions) *Message {
	d := m.delims
	d.Truncation = 0
	if compareVersion(m.Version(), "2.7") >= 0 {
		d.Truncation = m.delims.Truncation
	}
	a, _ := New(d)
	now := opt.Time
	if now.IsZero() {
		now = time.Now()
	}
	h := m.header()
	raw := func(v Value) []byte { return v.Raw() }
	sendApp, sendFac := raw(h.Field(5)), raw(h.Field(6))
	if opt.Application != "" {
		sendApp = Escape(nil, opt.Application, &d)
	}
	if opt.Facility != "" {
		sendFac = Escape(nil, opt.Facility, &d)
	}
	a.SetRaw("MSH-3", sendApp)
	a.SetRaw("MSH-4", sendFac)
	a.SetRaw("MSH-5", raw(h.Field(3)))
	a.SetRaw("MSH-6", raw(h.Field(4)))
	a.Set("MSH-7", FormatTime(now, PrecisionSecond, true))
	_, trigger, _ := m.MessageType()
	version := m.Version()
	switch {
	case compareVersion(version, "2.3.1") >= 0:
		a.SetRaw("MSH-9", []byte("ACK"+string(d.Component)+trigger+string(d.Component)+"ACK"))
	case compareVersion(version, "2.3") >= 0 && trigger != "":
		a.SetRaw("MSH-9", []byte("ACK"+string(d.Component)+trigger))
	default:
		a.Set("MSH-9", "ACK")
	}
	a.Set("MSH-10", opt.ControlID)
	a.SetRaw("MSH-11", raw(h.Field(11)))
	a.SetRaw("MSH-12", raw(h.Field(12)))
	if cs := h.Field(18); !cs.IsEmpty() {
		a.SetRaw("MSH-18", raw(cs))
		a.charset = m.charset
	}
	msa := []byte("MSA" + string(d.Field) + string(code) + string(d.Field))
	msa = append(msa, m.header().Field(10).Raw()...)
	modern := compareVersion(version, "2.5") >= 0
	if !modern && len(issues) > 0 && issues[0].Text != "" {
		msa = append(msa, d.Field)
		msa = Escape(msa, truncate(issues[0].Text, 80), &d)
	}
	a.AppendSegment(string(msa))
	for _, is := range issues {
		a.AppendSegment(errSegment(is, d, modern))
	}
	return a
}

// AppendAck appends the acknowledgment Ack builds, encoded as Bytes
// would encode it, to dst and returns the extended slice. It writes the
// bytes directly instead of building a Message, for receivers that answer
// every message they get; a message with a character set (MSH-18) or
// other unusual header takes the general path.
func (m *Message) AppendAck(dst []byte, code AckCode, issues []Issue, opt AckOptions) []byte {
	h := m.header()
	sendApp, sendFac, recvApp, recvFac := h.Field(5).Raw(), h.Field(6).Raw(), h.Field(3).Raw(), h.Field(4).Raw()
	proc, ver := h.Field(11).Raw(), h.Field(12).Raw()
	if !h.Field(18).IsEmpty() || hasTerminator(sendApp, sendFac, recvApp, recvFac, proc, ver, h.Field(10).Raw()) {
		return append(dst, m.Ack(code, issues, opt).Bytes()...)
	}
	d := m.delims
	d.Truncation = 0
	version := m.Version()
	if compareVersion(version, "2.7") >= 0 {
		d.Truncation = m.delims.Truncation
	}
	now := opt.Time
	if now.IsZero() {
		now = time.Now()
	}
	f := d.Field
	dst = append(dst, 'M', 'S', 'H', f, d.Component, d.Repetition, d.Escape, d.Subcomponent)
	if d.Truncation != 0 {
		dst = append(dst, d.Truncation)
	}
	// MSH-3 to MSH-12; trailing empty fields are left out, as Ack does.
	if opt.Application != "" {
		dst = Escape(append(dst, f), opt.Application, &d)
	} else {
		dst = append(append(dst, f), sendApp...)
	}
	if opt.Facility != "" {
		dst = Escape(append(dst, f), opt.Facility, &d)
	} else {
		dst = append(append(dst, f), sendFac...)
	}
	dst = append(append(dst, f), recvApp...)
	dst = append(append(dst, f), recvFac...)
	var ts [32]byte
	dst = Escape(append(dst, f), string(now.AppendFormat(ts[:0], "20060102150405-0700")), &d)
	dst = append(dst, f, f, 'A', 'C', 'K') // MSH-8 empty, MSH-9
	_, trigger, _ := m.MessageType()
	switch {
	case compareVersion(version, "2.3.1") >= 0:
		dst = append(append(append(dst, d.Component), trigger...), d.Component, 'A', 'C', 'K')
	case compareVersion(version, "2.3") >= 0 && trigger != "":
		dst = append(append(dst, d.Component), trigger...)
	}
	end := len(dst)
	dst = Escape(append(dst, f), opt.ControlID, &d)
	if opt.ControlID != "" {
		end = len(dst)
	}
	dst = append(append(dst, f), proc...)
	if len(proc) > 0 {
		end = len(dst)
	}
	dst = append(append(dst, f), ver...)
	if len(ver) > 0 {
		end = len(dst)
	}
	dst = append(dst[:end], '\r')
	dst = append(append(append(dst, 'M', 'S', 'A', f), code...), f)
	dst = append(dst, h.Field(10).Raw()...)
	modern := compareVersion(version, "2.5") >= 0
	if !modern && len(issues) > 0 && issues[0].Text != "" {
		dst = Escape(append(dst, f), truncate(issues[0].Text, 80), &d)
	}
	dst = append(dst, '\r')
	for _, is := range issues {
		dst = append(append(dst, errSegment(is, d, modern)...), '\r')
	}
	return dst
}

// hasTerminator reports whether one of the values holds a segment
// terminator (which SetRaw refuses).
func hasTerminator(vs ...[]byte) bool {
	for _, v := range vs {
		if bytes.IndexAny(v, "\r\n") >= 0 {
			return true
		}
	}
	return false
}

// errSegment encodes one issue as an ERR segment.
func errSegment(is Issue, d Delimiters, modern bool) string {
	comp, sub := string(d.Component), string(d.Subcomponent)
	num := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	code := strconv.Itoa(int(is.Code))
	text := string(Escape(nil, is.Code.Text(), &d))
	seq := is.Location.Seq
	if seq == 0 && is.Location.Segment != "" {
		seq = 1
	}
	f := string(d.Field)
	if !modern {
		// ERR-1 (ELD): segment ^ sequence ^ field ^ code&text&HL70357.
		return "ERR" + f + is.Location.Segment + comp + num(seq) + comp + num(is.Location.Field) + comp +
			code + sub + text + sub + "HL70357"
	}
	loc := is.Location.Segment + comp + num(seq) + comp + num(is.Location.Field) + comp + num(is.Location.Rep) +
		comp + num(is.Location.Component) + comp + num(is.Location.Sub)
	if is.Location.Segment == "" {
		loc = ""
	}
	sev := is.Severity
	if sev == "" {
		sev = SeverityError
	}
	seg := "ERR" + f + f + trimTrailing(loc, comp) + f + code + comp + text + comp + "HL70357" + f + string(sev)
	if is.Text != "" {
		seg += f + f + f + f + string(Escape(nil, truncate(is.Text, 250), &d))
	}
	return seg
}

func trimTrailing(s, sep string) string {
	for len(s) >= len(sep) && s[len(s)-len(sep):] == sep {
		s = s[:len(s)-len(sep)]
	}
	return s
}

// truncate shortens s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
