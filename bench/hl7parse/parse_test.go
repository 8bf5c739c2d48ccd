package hl7parse

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	lenaten "github.com/lenaten/hl7"

	"github.com/concord-health/concord/hl7v2"
)

// samples returns the shared samples as every parser here can read them:
// CR after each segment, no byte-order mark, and only those the peer
// parses (lenaten's Decoder splits on the text "MSH", so a message whose
// fields hold that text is left out for every parser alike).
func samples(b *testing.B) ([][]byte, int64) {
	files, _ := filepath.Glob("../../../shared/data/hl7v2/fhir-converter/input/*.hl7")
	if len(files) == 0 {
		b.Skip("../shared absent")
	}
	var out [][]byte
	var excluded []string
	var n int64
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
		raw = bytes.ReplaceAll(bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\r")), []byte("\n"), []byte("\r"))
		if ms, err := lenaten.NewDecoder(bytes.NewReader(raw)).Messages(); err != nil || len(ms) != 1 {
			excluded = append(excluded, filepath.Base(f))
			continue
		}
		out = append(out, raw)
		n += int64(len(raw))
	}
	b.Logf("%d samples, %d bytes; left out (the peer cannot parse them): %v", len(out), n, excluded)
	return out, n
}

func report(b *testing.B, msgs int) {
	b.ReportMetric(float64(msgs)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkConcordParse: hl7v2.Parse (segments and fields indexed; values
// found and decoded when read).
func BenchmarkConcordParse(b *testing.B) {
	msgs, n := samples(b)
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range msgs {
			if _, err := hl7v2.Parse(m); err != nil {
				b.Fatal(err)
			}
		}
	}
	report(b, len(msgs))
}

// BenchmarkConcordParseDecodeAll: hl7v2.Parse, then every value of every
// field read with escape sequences decoded.
func BenchmarkConcordParseDecodeAll(b *testing.B) {
	msgs, n := samples(b)
	b.SetBytes(n)
	b.ReportAllocs()
	buf := make([]byte, 0, 4096)
	for b.Loop() {
		for _, raw := range msgs {
			m, err := hl7v2.Parse(raw)
			if err != nil {
				b.Fatal(err)
			}
			for l := range m.EachLeaf {
				buf = l.Value.AppendText(buf[:0])
			}
		}
	}
	report(b, len(msgs))
}

// BenchmarkConcordParseLeafText: hl7v2.Parse, then every value read
// through EachLeafText with escape sequences decoded (a value without
// escapes is yielded as a slice of the input, one with escapes decoded
// into a reused buffer).
func BenchmarkConcordParseLeafText(b *testing.B) {
	msgs, n := samples(b)
	b.SetBytes(n)
	b.ReportAllocs()
	total := 0
	for b.Loop() {
		for _, raw := range msgs {
			m, err := hl7v2.Parse(raw)
			if err != nil {
				b.Fatal(err)
			}
			for _, text := range m.EachLeafText {
				total += len(text)
			}
		}
	}
	if total == 0 {
		b.Fatal("no text")
	}
	report(b, len(msgs))
}

// BenchmarkLenatenParse: github.com/lenaten/hl7 through its Decoder, the
// way its documentation reads messages (its Message.Parse on a bare slice
// fails at the end of input unless the slice has spare capacity): a full
// tree of segments, fields and components, escapes not decoded.
func BenchmarkLenatenParse(b *testing.B) {
	msgs, n := samples(b)
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		for _, raw := range msgs {
			ms, err := lenaten.NewDecoder(bytes.NewReader(raw)).Messages()
			if err != nil || len(ms) != 1 {
				b.Fatalf("%v (%d messages)", err, len(ms))
			}
		}
	}
	report(b, len(msgs))
}
