package hl7v2

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A synthetic message (no real patient), with CR segment ends.
const synthetic = "MSH|^~\\&|LAB|North^1.2.3^ISO|EHR|Ward|20260102030405+0100||ORU^R01^ORU_R01|CTRL-1|P|2.5.1|||AL|NE\r" +
	"PID|1||MRN-1^^^North&1.2.3&ISO^MR~SSN-9^^^SSA^SS||Doe^Jane^Q^^Dr.||19800101|F\r" +
	"OBR|1|ORD-1|FIL-1|24331-1^Lipid panel^LN\r" +
	"OBX|1|NM|2093-3^Cholesterol^LN||182|mg/dL^milligram per deciliter^UCUM|<200|N|||F\r" +
	"OBX|2|ST|8251-1^Comment^LN||Fasting \\T\\ rested\\.br\\second line \\X41\\ \\Zvendor\\||||||F\r" +
	"OBX|3|NM|2571-8^Triglycerides^LN||90|mg/dL\r"

func mustParse(t *testing.T, s string) *Message {
	t.Helper()
	m, err := Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPaths(t *testing.T) {
	m := mustParse(t, synthetic)
	cases := map[string]string{
		"MSH-7":       "20260102030405+0100",
		"PID-3":       "MRN-1^^^North&1.2.3&ISO^MR~SSN-9^^^SSA^SS",
		"PID-3[2]":    "SSN-9^^^SSA^SS",
		"PID-3[2].1":  "SSN-9",
		"PID-3.4":     "North&1.2.3&ISO",
		"PID-3.4.3":   "ISO",
		"PID-5.2":     "Jane",
		"OBX[2]-5":    "Fasting & rested\nsecond line A \\Zvendor\\",
		"OBX[3]-5":    "90",
		"OBX[3]-6.1":  "mg/dL",
		"OBX[4]-5":    "",
		"OBR-4.2":     "Lipid panel",
		"OBX-6.3":     "UCUM",
		"PID-3[3].1":  "",
		"PID-3.4.9":   "",
		"PID-3.99":    "",
		"NTE-1":       "",
		"bad path":    "",
		"PID-0":       "",
		"PID-3[0]":    "",
		"OBX(2)-3(1)": "8251-1^Comment^LN",
	}
	for p, want := range cases {
		if got := m.Get(p); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	for _, bad := range []string{"", "PI", "pid-3", "PID3", "PID-", "PID-x", "PID-3.", "PID-3[2", "PID-3.1.1.1", "PID-123456", "PID[0]-1"} {
		if _, err := ParsePath(bad); err == nil {
			t.Errorf("ParsePath(%q) accepted", bad)
		}
	}
	p, _ := ParsePath("OBX(4)-5(2).3.1")
	if p.String() != "OBX[4]-5[2].3.1" {
		t.Errorf("round trip %s", p)
	}
	obx, _ := m.Find("OBX", 1)
	if v, err := obx.Field(5).Number(); err != nil || v != 182 {
		t.Errorf("OBX-5 number %v %v", v, err)
	}
	if m.Count("OBX") != 3 || obx.FieldCount() != 11 {
		t.Errorf("count %d fields %d", m.Count("OBX"), obx.FieldCount())
	}
	pid, _ := m.Find("PID", 1)
	if pid.Field(3).Reps() != 2 || pid.Field(5).Components() != 5 || pid.Field(3).Component(4).Subcomponents() != 3 {
		t.Errorf("counts: reps %d comps %d subs %d", pid.Field(3).Reps(), pid.Field(5).Components(), pid.Field(3).Component(4).Subcomponents())
	}
	if code, trig, st := m.MessageType(); code != "ORU" || trig != "R01" || st != "ORU_R01" || !m.EnhancedMode() || m.AcceptAckType() != "AL" {
		t.Errorf("header %s %s %s", code, trig, st)
	}
}

func TestEscapes(t *testing.T) {
	d := &DefaultDelimiters
	dec := map[string]string{
		`a\F\b`: "a|b", `a\S\b`: "a^b", `a\T\b`: "a&b", `a\R\b`: "a~b", `a\E\b`: `a\b`,
		`\X0D0A\`: "\r\n", `\X41\`: "A", `\Xzz\`: `\Xzz\`, `\X4\`: `\X4\`,
		`one\.br\two`: "one\ntwo", `\.sp2\`: "\n\n", `\.sp\`: "\n", `\H\bold\N\`: "bold",
		`\.in+4\x`: "x", `\.ti-2\x`: "x", `\.fi\\.nf\\.ce\x`: "x", `\.sk3\x`: "x",
		`\Zlocal\`: `\Zlocal\`, `\Q\`: `\Q\`, `unclosed\F`: `unclosed\F`, `\\`: `\\`,
		`\C2842\x`: "x", `\C28421\x`: `\C28421\x`, `\M2442\x`: "x", `\M242842\x`: "x", `\M24\x`: `\M24\x`, `\P\`: `\P\`,
		"plain": "plain", "": "",
	}
	for in, want := range dec {
		if got := string(Unescape(nil, []byte(in), d)); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
	trunc := DefaultDelimiters
	trunc.Truncation = '#'
	if got := string(Unescape(nil, []byte(`a\P\b`), &trunc)); got != "a#b" {
		t.Errorf("truncation escape: %q", got)
	}
	for _, s := range []string{"a|b^c&d~e\\f", "line\nbreak\rcr", "#hash", "", "ünïcödé ✓"} {
		enc := Escape(nil, s, &trunc)
		if bytes.ContainsAny(enc, "|^&~\r\n#") {
			t.Errorf("Escape(%q) = %q leaves a delimiter", s, enc)
		}
		if got := string(Unescape(nil, enc, &trunc)); got != s {
			t.Errorf("round trip %q -> %q -> %q", s, enc, got)
		}
	}
}

func TestEditing(t *testing.T) {
	m := mustParse(t, synthetic)
	steps := []struct{ path, value string }{
		{"PID-5.1", "O'Brien|Smith"},
		{"PID-3[3].1", "NEW-3"},
		{"PID-3[3].4.2", "9.9.9"},
		{"PID-30", "Y"},
		{"MSH-10", "CTRL-2"},
		{"ZPI-2.3", "custom"},
		{"OBX[3]-5", "91"},
	}
	for _, s := range steps {
		if err := m.Set(s.path, s.value); err != nil {
			t.Fatalf("Set %s: %v", s.path, err)
		}
	}
	again := mustParse(t, m.String())
	for _, s := range steps {
		if got := again.Get(s.path); got != s.value {
			t.Errorf("after re-parse %s = %q, want %q", s.path, got, s.value)
		}
	}
	if again.Get("PID-5.2") != "Jane" || again.Get("PID-3[2].1") != "SSN-9" || again.Get("PID-3[3].4") != "^9.9.9" && again.Get("PID-3[3].4.2") != "9.9.9" {
		t.Errorf("neighbours changed: %s", again.String())
	}
	pid, _ := again.Find("PID", 1)
	if !strings.Contains(pid.String(), `O'Brien\F\Smith`) {
		t.Errorf("value not escaped: %s", pid)
	}
	if err := m.SetRaw("PID-5", []byte("Roe^Richard")); err != nil || m.Get("PID-5.2") != "Richard" {
		t.Errorf("SetRaw: %v %q", err, m.Get("PID-5.2"))
	}
	if err := m.SetRaw("PID-5", []byte("a\rMSH|x")); err == nil {
		t.Error("SetRaw accepted a segment terminator")
	}
	for _, p := range []string{"MSH-1", "MSH-2", "PID", "NOPE[2]-1"} {
		if err := m.Set(p, "x"); err == nil {
			t.Errorf("Set %s accepted", p)
		}
	}
	if err := m.InsertSegment(2, "NTE|1||synthetic note"); err != nil || m.Segment(2).Name() != "NTE" {
		t.Fatalf("insert: %v", err)
	}
	if err := m.DeleteSegment(2); err != nil || m.Count("NTE") != 0 {
		t.Fatalf("delete: %v", err)
	}
	for _, bad := range []string{"nt|x", "NTE|a\rb", "MSH|^~\\&|x"} {
		if err := m.AppendSegment(bad); err == nil {
			t.Errorf("AppendSegment(%q) accepted", bad)
		}
	}
	if err := m.DeleteSegment(0); err == nil {
		t.Error("deleted MSH")
	}
	// Trailing empty fields are not written.
	m2 := mustParse(t, "MSH|^~\\&|A\rPID|1\r")
	m2.Set("PID-8", "F")
	m2.Set("PID-8", "")
	if pid, _ := m2.Find("PID", 1); pid.String() != "PID|1" {
		t.Errorf("trailing fields kept: %q", pid)
	}
	// A clone is independent.
	orig := mustParse(t, synthetic)
	c := orig.Clone()
	c.Set("PID-5.1", "Changed")
	if orig.Get("PID-5.1") != "Doe" || string(orig.Bytes()) != synthetic {
		t.Error("editing a clone changed the original")
	}
}

func TestNew(t *testing.T) {
	m, err := New(DefaultDelimiters)
	if err != nil {
		t.Fatal(err)
	}
	m.Set("MSH-9", "")
	m.SetRaw("MSH-9", []byte("ADT^A04^ADT_A01"))
	m.Set("MSH-10", "NEW-1")
	m.Set("MSH-12", "2.5.1")
	m.Set("PID-5.1", "Synthetic")
	want := "MSH|^~\\&|||||||ADT^A04^ADT_A01|NEW-1||2.5.1\rPID|||||Synthetic\r"
	if m.String() != want {
		t.Errorf("got %q\nwant %q", m.String(), want)
	}
	if _, err := New(Delimiters{Field: '|', Component: '|', Repetition: '~', Escape: '\\', Subcomponent: '&'}); err == nil {
		t.Error("duplicate delimiters accepted")
	}
}

func TestCustomDelimiters(t *testing.T) {
	m := mustParse(t, "MSH#$%*@#A#B\nPID#1##ID1$$$AUTH@1.2%ID2#\n")
	if m.Get("MSH-1") != "#" || m.Get("MSH-2") != "$%*@" || m.Get("PID-3.1") != "ID1" || m.Get("PID-3.4.2") != "1.2" || m.Get("PID-3[2].1") != "ID2" {
		t.Errorf("custom delimiters: %q %q %q %q", m.Get("MSH-1"), m.Get("MSH-2"), m.Get("PID-3.1"), m.Get("PID-3.4.2"))
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]Code{
		"":                          CodeSegmentSequence,
		"PID|1||x":                  CodeSegmentSequence,
		"BHS|^~\\&|A":               CodeSegmentSequence,
		"\x00\x01\x02garbage bytes": CodeSegmentSequence,
		"MSH|^~\\&":                 CodeDataType,
		"MSH|^~|A|B":                CodeDataType,
		"MSH|^^\\&|A":               CodeDataType,
		"MSH|^~\\A|x":               CodeDataType,
		"MSH|^~\\&|A\rpid|1":        CodeSegmentSequence,
		"MSH|^~\\&|A\rPI|1":         CodeSegmentSequence,
		"MSH|^~\\&|A\rPIDX|1":       CodeSegmentSequence,
		"MSH|^~\\&|A\r\xff\xfe":     CodeSegmentSequence,
		"MSH|^~\\&" + "||||||||||||||||" + "KOI8-R\r": CodeDataType, // MSH-18
	}
	for in, code := range cases {
		_, err := Parse([]byte(in))
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q) = %v, want a ParseError", in, err)
			continue
		}
		if pe.Code != code {
			t.Errorf("Parse(%q): code %d (%s), want %d", in, pe.Code, pe.Reason, code)
		}
	}
	// Tolerated: BOM, CRLF, LF, blank lines, leading newlines.
	for _, in := range []string{"\xef\xbb\xbfMSH|^~\\&|A\r\nPID|1\r\n", "\n\nMSH|^~\\&|A\n\nPID|1\n", "MSH|^~\\&|A\rPID|1"} {
		m, err := Parse([]byte(in))
		if err != nil || m.Len() != 2 || m.Get("PID-1") != "1" {
			t.Errorf("Parse(%q): %v", in, err)
		}
	}
}

func TestCharsets(t *testing.T) {
	latin1 := []byte("MSH|^~\\&|A||||||ADT^A01|1|P|2.5||||||8859/1\rPID|1||||Jos\xe9^Ren\xe9e\r")
	m, err := Parse(latin1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Get("PID-5.1") != "José" || m.Get("PID-5.2") != "Renée" || m.Charset() != "8859/1" {
		t.Fatalf("Latin-1 not decoded: %q %q", m.Get("PID-5.1"), m.Get("PID-5.2"))
	}
	if !bytes.Equal(m.Bytes(), latin1) {
		t.Error("unedited Latin-1 message changed")
	}
	m.Set("PID-5.1", "Zoë")
	if !bytes.Contains(m.Bytes(), []byte("Zo\xeb^Ren\xe9e")) {
		t.Errorf("edited message not written back in Latin-1: %q", m.Bytes())
	}
	utf := mustParse(t, "MSH|^~\\&|A||||||ADT^A01|1|P|2.5||||||UNICODE UTF-8\rPID|1||||Žofie\r")
	if utf.Get("PID-5") != "Žofie" {
		t.Errorf("UTF-8: %q", utf.Get("PID-5"))
	}
}

func TestTimes(t *testing.T) {
	good := map[string]struct {
		p    Precision
		utc  string
		zone bool
	}{
		"2026":                  {PrecisionYear, "2026-01-01T00:00:00", false},
		"202602":                {PrecisionMonth, "2026-02-01T00:00:00", false},
		"20260229":              {0, "", false}, // not a leap year
		"20240229":              {PrecisionDay, "2024-02-29T00:00:00", false},
		"2026022813":            {PrecisionHour, "2026-02-28T13:00:00", false},
		"202602281330":          {PrecisionMinute, "2026-02-28T13:30:00", false},
		"20260228133045":        {PrecisionSecond, "2026-02-28T13:30:45", false},
		"20260228133045.1234":   {PrecisionFraction, "2026-02-28T13:30:45.1234", false},
		"20260228133045-0500":   {PrecisionSecond, "2026-02-28T18:30:45", true},
		"202602281330+0530":     {PrecisionMinute, "2026-02-28T08:00:00", true},
		"20260228133045.5+0000": {PrecisionFraction, "2026-02-28T13:30:45.5", true},
		"2026022":               {},
		"20261301":              {},
		"20260228250000":        {},
		"2026022813304":         {},
		"20260228.5":            {},
		"20260228133045.12345":  {},
		"20260228133045+05":     {},
		"2026x228":              {},
		"":                      {},
	}
	for in, w := range good {
		got, err := ParseTime(in, nil)
		if w.p == 0 {
			if err == nil {
				t.Errorf("ParseTime(%q) accepted", in)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTime(%q): %v", in, err)
			continue
		}
		if got.Precision != w.p || got.HasZone != w.zone || strings.TrimRight(got.UTC().Format("2006-01-02T15:04:05.0000"), ".0") != strings.TrimRight(w.utc, ".0") {
			t.Errorf("ParseTime(%q) = %v %v zone %v", in, got.UTC(), got.Precision, got.HasZone)
		}
	}
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("", -4*3600))
	if s := FormatTime(at, PrecisionSecond, true); s != "20260304050607-0400" {
		t.Errorf("FormatTime %s", s)
	}
	for _, n := range []string{"1", "-1.5", "+0.25", "007", ".5", "5."} {
		if _, err := ParseNumber(n); err != nil {
			t.Errorf("ParseNumber(%q): %v", n, err)
		}
	}
	for _, n := range []string{"", "1e5", "1.2.3", "--1", "abc", ".", "1,5", "0x10"} {
		if _, err := ParseNumber(n); err == nil {
			t.Errorf("ParseNumber(%q) accepted", n)
		}
	}
}

func TestAck(t *testing.T) {
	m := mustParse(t, synthetic)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := m.Ack(AE, []Issue{
		{Location: Location{Segment: "PID", Seq: 1, Field: 7}, Code: CodeDataType, Text: "PID-7: not a date|time"},
		{Location: Location{Segment: "OBX", Seq: 2, Field: 5, Rep: 1, Component: 1}, Code: CodeValueTooLong, Severity: SeverityWarning},
	}, AckOptions{ControlID: "ACK-1", Time: at})
	want := "MSH|^~\\&|EHR|Ward|LAB|North^1.2.3^ISO|20260102030405+0000||ACK^R01^ACK|ACK-1|P|2.5.1\r" +
		"MSA|AE|CTRL-1\r" +
		"ERR||PID^1^7|102^Data type error^HL70357|E||||PID-7: not a date\\F\\time\r" +
		"ERR||OBX^2^5^1^1|104^Value too long^HL70357|W\r"
	if a.String() != want {
		t.Errorf("ack\n%q\nwant\n%q", a.String(), want)
	}
	// Before v2.5: ERR-1 and MSA-3.
	old := mustParse(t, "MSH|^~\\&|S|SF|R|RF|20260101||ADT^A04|C9|T|2.3\rEVN|A04\r")
	a = old.Ack(AR, []Issue{{Location: Location{Segment: "PID"}, Code: CodeRequiredFieldMissing, Text: "PID missing"}}, AckOptions{ControlID: "A9", Time: at, Application: "Concord"})
	want = "MSH|^~\\&|Concord|RF|S|SF|20260102030405+0000||ACK^A04|A9|T|2.3\rMSA|AR|C9|PID missing\rERR|PID^1^^101&Required field missing&HL70357\r"
	if a.String() != want {
		t.Errorf("v2.3 ack\n%q\nwant\n%q", a.String(), want)
	}
	// The acknowledgment parses and points back at the message.
	back := mustParse(t, a.String())
	if back.Get("MSA-2") != "C9" || back.Get("MSA-1") != "AR" {
		t.Errorf("ack does not parse back: %s", a)
	}
	// v2.1: message type ACK alone; custom delimiters carried over.
	v21 := mustParse(t, "MSH#$%*@#S##R##20260101##ADT$A01#C1#P#2.1\r")
	if s := v21.Ack(CA, nil, AckOptions{ControlID: "X", Time: at}).String(); s != "MSH#$%*@#R##S##20260102030405+0000##ACK#X#P#2.1\rMSA#CA#C1\r" {
		t.Errorf("v2.1 ack %q", s)
	}
}

func TestSplitBatch(t *testing.T) {
	in := "\xef\xbb\xbfFHS|^~\\&|A\nBHS|^~\\&|A\nMSH|^~\\&|A||||||ADT^A01|1|P|2.5\nPID|1||X^^^MSH\nMSH|^~\\&|A||||||ADT^A01|2|P|2.5\r\nBTS|2\nFTS|1\n"
	b, err := SplitBatch([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Messages) != 2 || b.FileHeader == nil || len(b.BatchHeader) != 1 {
		t.Fatalf("split %d messages", len(b.Messages))
	}
	if string(b.Messages[0]) != "MSH|^~\\&|A||||||ADT^A01|1|P|2.5\rPID|1||X^^^MSH\r" {
		t.Errorf("first %q", b.Messages[0])
	}
	for _, bad := range []string{
		"PID|1\nMSH|^~\\&|A\n",
		"BHS|^~\\&\nMSH|^~\\&|A\nBTS|3\n",
		"FHS|^~\\&\nBHS|^~\\&\nMSH|^~\\&|A\nBTS|1\nFTS|2\n",
		"MSH|^~\\&|A\nFHS|^~\\&\n",
	} {
		if _, err := SplitBatch([]byte(bad)); err == nil {
			t.Errorf("SplitBatch(%q) accepted", bad)
		}
	}
	plain, err := SplitBatch([]byte("MSH|^~\\&|A\rPID|1\rMSH|^~\\&|B\r"))
	if err != nil || len(plain.Messages) != 2 {
		t.Errorf("plain messages: %v %d", err, len(plain.Messages))
	}
}

// TestIterators checks that the one-pass iterators agree with indexed
// access on every sample field.
func TestIterators(t *testing.T) {
	for name, data := range samples(t) {
		m, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < m.Len(); i++ {
			s := m.Segment(i)
			for f := 1; f <= s.FieldCount(); f++ {
				field := s.Field(f)
				r := 0
				for rep := range field.EachRep {
					r++
					if string(rep.Raw()) != string(field.Rep(r).Raw()) {
						t.Fatalf("%s %s-%d rep %d differs", name, s.Name(), f, r)
					}
					c := 0
					for comp := range rep.EachComponent {
						c++
						if string(comp.Raw()) != string(rep.Component(c).Raw()) {
							t.Fatalf("%s %s-%d[%d].%d differs", name, s.Name(), f, r, c)
						}
						k := 0
						for sub := range comp.EachSub {
							k++
							if string(sub.Raw()) != string(comp.Sub(k).Raw()) {
								t.Fatalf("%s %s-%d[%d].%d.%d differs", name, s.Name(), f, r, c, k)
							}
						}
						if k != comp.Subcomponents() && !(k == 0 && comp.IsEmpty()) {
							t.Fatalf("%s %s-%d[%d].%d: %d subs iterated, %d counted", name, s.Name(), f, r, c, k, comp.Subcomponents())
						}
					}
				}
				if r != field.Reps() {
					t.Fatalf("%s %s-%d: %d reps iterated, %d counted", name, s.Name(), f, r, field.Reps())
				}
			}
		}
	}
}

// TestEachLeaf checks the one-pass leaf walk against indexed access.
func TestEachLeaf(t *testing.T) {
	for name, data := range samples(t) {
		m, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		count := 0
		for l := range m.EachLeaf {
			count++
			f := l.Segment.Field(l.Field)
			var want Value
			if f.level == levelLeaf {
				want = f
			} else {
				want = f.Rep(l.Rep).Component(l.Component).Sub(l.Sub)
			}
			if string(l.Value.Raw()) != string(want.Raw()) || l.Value.String() != want.String() {
				t.Fatalf("%s %s-%d[%d].%d.%d: %q, indexed %q", name, l.Segment.Name(), l.Field, l.Rep, l.Component, l.Sub, l.Value.Raw(), want.Raw())
			}
		}
		if count == 0 {
			t.Fatalf("%s: no leaves", name)
		}
	}
	m := mustParse(t, synthetic)
	var got []string
	for l := range m.EachLeaf {
		if l.Segment.Name() == "PID" && l.Field == 3 {
			got = append(got, fmt.Sprintf("%d.%d.%d=%s", l.Rep, l.Component, l.Sub, l.Value))
		}
	}
	if want := "[1.1.1=MRN-1 1.4.1=North 1.4.2=1.2.3 1.4.3=ISO 1.5.1=MR 2.1.1=SSN-9 2.4.1=SSA 2.5.1=SS]"; fmt.Sprint(got) != want {
		t.Errorf("PID-3 leaves %v, want %s", got, want)
	}
}
