package mllp

import "testing"

func TestControlID(t *testing.T) {
	cases := []struct{ name, msg, want string }{
		{"typical", "MSH|^~\\&|SYNTH|FAC|CONCORD|FAC|20250101120000||ADT^A01|MSG00001|P|2.5\rPID|1\r", "MSG00001"},
		{"BOM", "\xEF\xBB\xBFMSH|^~\\&|A|B|C|D|20250101||ADT^A01|BOM1|P|2.5\r", "BOM1"},
		{"LF separators", "MSH|^~\\&|A|B|C|D|20250101||ADT^A01|LF1|P|2.5\nPID|1\n", "LF1"},
		{"CRLF separators", "MSH|^~\\&|A|B|C|D|20250101||ADT^A01|CRLF1|P|2.5\r\nPID|1\r\n", "CRLF1"},
		{"blank lines before MSH", "\r\n\nMSH|^~\\&|A|B|C|D|20250101||ADT^A01|B1|P\r", "B1"},
		{"other separator", "MSH#^~\\&#A#B#C#D#20250101##ADT^A01#HASH1#P#2.5\r", "HASH1"},
		{"components kept whole", "MSH|^~\\&|A|B|C|D|20250101||ADT^A01|ID^X|P\r", "ID^X"},
		{"last field", "MSH|^~\\&|A|B|C|D|20250101||ADT^A01|LAST", "LAST"},
		{"empty MSH-10", "MSH|^~\\&|A|B|C|D|20250101||ADT^A01||P\r", ""},
		{"too few fields", "MSH|^~\\&|A|B\r", ""},
		{"MSH-10 only in a later segment", "MSH|^~\\&|A\rZZZ|1|2|3|4|5|6|7|8|9|X\r", ""},
		{"not MSH first", "PID|1\rMSH|^~\\&|A|B|C|D|20250101||ADT^A01|X|P\r", ""},
		{"MSH without separator", "MSH\rPID|1\r", ""},
		{"empty", "", ""},
		{"garbage", "\x00\x01MSH", ""},
	}
	for _, tc := range cases {
		if got := ControlID([]byte(tc.msg)); got != tc.want {
			t.Errorf("%s: ControlID = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestAckControlID(t *testing.T) {
	cases := []struct{ name, ack, want string }{
		{"typical", "MSH|^~\\&|CONCORD|FAC|SYNTH|FAC|20250101120001||ACK^A01|ACK1|P|2.5\rMSA|AA|MSG00001\r", "MSG00001"},
		{"with ERR", "MSH|^~\\&|C|F|S|F|20250101||ACK|A2|P|2.5\rMSA|AE|MSG2|bad\rERR|||207\r", "MSG2"},
		{"BOM and LF", "\xEF\xBB\xBFMSH|^~\\&|C|F|S|F|20250101||ACK|A3|P\nMSA|AA|LF3\n", "LF3"},
		{"no trailing CR", "MSH|^~\\&|C|F|S|F|20250101||ACK|A4|P\rMSA|AA|END4", "END4"},
		{"MSA after other segments", "MSH|^~\\&|C\rSFT|x\rMSA|AA|S5\r", "S5"},
		{"separator from MSH", "MSH#^~\\&#C\rMSA#AA#H6\r", "H6"},
		{"missing MSA", "MSH|^~\\&|C|F|S|F|20250101||ACK|A7|P\rERR|||207\r", ""},
		{"MSA without MSA-2", "MSH|^~\\&|C\rMSA|AA\r", ""},
		{"MSA-like segment name", "MSH|^~\\&|C\rMSAX|AA|NO\r", ""},
		{"no MSH", "MSA|AA|X\r", ""},
		{"empty", "", ""},
	}
	for _, tc := range cases {
		if got := AckControlID([]byte(tc.ack)); got != tc.want {
			t.Errorf("%s: AckControlID = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestMatchControlID(t *testing.T) {
	msg := []byte("MSH|^~\\&|SYNTH|FAC|CONCORD|FAC|20250101120000||ADT^A01|MSG00001|P|2.5\rPID|1\r")
	cases := []struct {
		name string
		msg  []byte
		ack  string
		want bool
	}{
		{"match", msg, "MSH|^~\\&|C|F|S|F|20250101||ACK|A1|P\rMSA|AA|MSG00001\r", true},
		{"negative ack still matches", msg, "MSH|^~\\&|C|F|S|F|20250101||ACK|A1|P\rMSA|AR|MSG00001|bad\r", true},
		{"other control ID", msg, "MSH|^~\\&|C|F|S|F|20250101||ACK|A1|P\rMSA|AA|MSG00002\r", false},
		{"prefix only", msg, "MSH|^~\\&|C|F|S|F|20250101||ACK|A1|P\rMSA|AA|MSG0000\r", false},
		{"missing MSA", msg, "MSH|^~\\&|C|F|S|F|20250101||ACK|MSG00001|P\r", false},
		{"message without control ID", []byte("MSH|^~\\&|A\r"), "MSH|^~\\&|C\rMSA|AA|\r", false},
		{"not a message", []byte("hello"), "hello", false},
	}
	for _, tc := range cases {
		if got := MatchControlID(tc.msg, []byte(tc.ack)); got != tc.want {
			t.Errorf("%s: MatchControlID = %v, want %v", tc.name, got, tc.want)
		}
	}
}
