package hl7v2

import (
	"bytes"
	"testing"
	"time"
)

// ackCases are the acknowledgments checked for each message: AppendAck
// must encode exactly what Ack builds.
var ackCases = []struct {
	code   AckCode
	issues []Issue
	opt    AckOptions
}{
	{AA, nil, AckOptions{ControlID: "CNC1-1", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Application: "Concord", Facility: "node-1"}},
	{CA, nil, AckOptions{ControlID: "X|^~\\&#", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", -5*3600))}},
	{AE, []Issue{{Location: Location{Segment: "PID", Field: 3}, Code: CodeDataType, Text: "bad | value ^ here"}},
		AckOptions{ControlID: "A", Application: "a&b", Facility: "f~g"}},
	{AR, []Issue{{Code: CodeRequiredFieldMissing, Severity: SeverityWarning, Text: "x"}, {Location: Location{Segment: "MSH", Seq: 2, Field: 9, Rep: 1, Component: 2}, Code: CodeApplicationError}},
		AckOptions{}},
}

func checkAppendAck(t *testing.T, m *Message) {
	t.Helper()
	for i, c := range ackCases {
		if c.opt.Time.IsZero() {
			c.opt.Time = time.Now()
		}
		want := m.Ack(c.code, c.issues, c.opt).Bytes()
		got := m.AppendAck([]byte("prefix"), c.code, c.issues, c.opt)
		if !bytes.Equal(got[:6], []byte("prefix")) || !bytes.Equal(got[6:], want) {
			t.Fatalf("case %d of %q:\nAppendAck %q\nAck       %q", i, m.Bytes(), got[6:], want)
		}
	}
}

func TestAppendAck(t *testing.T) {
	for _, s := range []string{
		synthetic,
		"MSH|^~\\&|LAB|North|EHR|Ward|20260102030405||ORU^R01^ORU_R01|B1-2|P|2.5.1\rPID|1\r",
		"MSH|^~\\&|||||20260102030405||ORU^R01|B1-2\rPID|1\r",
		"MSH|^~\\&|A|B|C|D|x||ADT^A01|1|P|2.3\r",
		"MSH|^~\\&|A|B|C|D|x||ADT|1|P|2.3\r",
		"MSH|^~\\&|A|B|C|D|x||ADT^A01|1|P|2.2\r",
		"MSH|^~\\&|A|B|C|D|x||ADT^A01|1|P\r",
		"MSH|^~\\&|A|B|C|D|x||ADT^A01||P|2.5\r",
		"MSH|^~\\&|A|B|C|D|x||ADT^A01|1||2.5\r",
		"MSH|^~\\&|A|B|C|D|x||ADT^A01|||\r",
		"MSH|^~\\&#|A|B|C|D|x||ADT^A01^ADT_A01|1|P^T|2.7|||AL|NE\r",
		"MSH|^~\\&#|A|B|C|D|x||ADT^A01^ADT_A01|1|P|2.8.2|||||USA|UNICODE UTF-8\rPID|1||||Jos\xc3\xa9\r",
		"MSH|^~\\&|A||||||ADT^A01|1|P|2.5||||||8859/1\rPID|1||||Jos\xe9\r",
		"MSH#$%*@#R##S##20260102030405##ADT$A01#C1#P#2.1\r",
		"MSH|^~\\&|A~B^C|F&G|||x||ADT^A01|1|P|2.5\r",
	} {
		m, err := Parse([]byte(s))
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		checkAppendAck(t, m)
	}
}

func TestAppendAckSamples(t *testing.T) {
	for name, data := range samples(t) {
		m, err := Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkAppendAck(t, m)
	}
}

func FuzzAppendAck(f *testing.F) {
	f.Add([]byte(synthetic))
	f.Add([]byte("MSH#$%*@#A#B\nPID#1##ID1$$$AUTH@1.2%ID2#\n"))
	f.Add([]byte("MSH|^~\\&|A||||||ADT^A01|1|P|2.5||||||8859/1\rPID|1||||Jos\xe9\r"))
	f.Add([]byte("MSH|^~\\&#|A|||||||1|P|2.7\rOBX|1|ST|||a\\P\\b\\X41\\\\.br\\\r"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			return
		}
		checkAppendAck(t, m)
	})
}

func BenchmarkAck(b *testing.B) {
	m, err := Parse([]byte("MSH|^~\\&|LAB|North|EHR|Ward|20260102030405||ORU^R01^ORU_R01|B1-2|P|2.5.1\rPID|1\r"))
	if err != nil {
		b.Fatal(err)
	}
	opt := AckOptions{ControlID: "CNC1-1", Time: time.Now(), Application: "Concord", Facility: "bench"}
	b.Run("Ack", func(b *testing.B) {
		for b.Loop() {
			m.Ack(AA, nil, opt).Bytes()
		}
	})
	b.Run("AppendAck", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = m.AppendAck(buf[:0], AA, nil, opt)
		}
	})
}
