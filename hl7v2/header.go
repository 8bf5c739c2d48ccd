package hl7v2

// header returns the message's first segment (MSH).
func (m *Message) header() Segment { return Segment{m: m, i: 0} }

// MessageType returns MSH-9: the message code (ADT), trigger event (A01)
// and message structure (ADT_A01), each "" when absent.
func (m *Message) MessageType() (code, trigger, structure string) {
	f := m.header().Field(9)
	return f.Component(1).String(), f.Component(2).String(), f.Component(3).String()
}

// ControlID returns MSH-10, the sender's identifier for this message.
func (m *Message) ControlID() string { return m.header().Field(10).String() }

// ProcessingID returns MSH-11.1: P (production), T (training) or D
// (debugging).
func (m *Message) ProcessingID() string { return m.header().Field(11).Component(1).String() }

// Version returns MSH-12.1, such as "2.5.1".
func (m *Message) Version() string { return m.header().Field(12).Component(1).String() }

// AcceptAckType returns MSH-15 (AL, NE, ER, SU), "" in original mode.
func (m *Message) AcceptAckType() string { return m.header().Field(15).String() }

// ApplicationAckType returns MSH-16 (AL, NE, ER, SU), "" in original mode.
func (m *Message) ApplicationAckType() string { return m.header().Field(16).String() }

// EnhancedMode reports whether the sender asked for enhanced
// acknowledgment (MSH-15 or MSH-16 valued): a commit acknowledgment (CA,
// CE, CR) first, then an application acknowledgment if MSH-16 asks.
func (m *Message) EnhancedMode() bool {
	return m.AcceptAckType() != "" || m.ApplicationAckType() != ""
}

// Sender returns MSH-3 and MSH-4 (sending application and facility) as
// encoded, for routing and display.
func (m *Message) Sender() (application, facility string) {
	h := m.header()
	return h.Field(3).String(), h.Field(4).String()
}

// Receiver returns MSH-5 and MSH-6 (receiving application and facility).
func (m *Message) Receiver() (application, facility string) {
	h := m.header()
	return h.Field(5).String(), h.Field(6).String()
}

// compareVersion compares HL7 versions such as "2.3.1" and "2.5",
// returning -1, 0 or 1. Missing parts count as 0.
func compareVersion(a, b string) int {
	for a != "" || b != "" {
		var x, y int
		x, a = leadingNumber(a)
		y, b = leadingNumber(b)
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

func leadingNumber(s string) (int, string) {
	n, i := 0, 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		n = n*10 + int(s[i]-'0')
		i++
	}
	if i < len(s) && s[i] == '.' {
		i++
	} else if i < len(s) {
		return n, "" // stop at anything else
	}
	return n, s[i:]
}
