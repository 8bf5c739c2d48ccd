package hl7v2

import (
	"testing"
)

func sampleSet(b *testing.B) ([][]byte, int64) {
	all := samples(b)
	var out [][]byte
	var n int64
	for _, data := range all {
		out = append(out, data)
		n += int64(len(data))
	}
	return out, n
}

// BenchmarkParse parses every shared sample once per iteration.
func BenchmarkParse(b *testing.B) {
	msgs, n := sampleSet(b)
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		for _, data := range msgs {
			if _, err := Parse(data); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(msgs))*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkParseDecodeAll parses every shared sample and decodes every
// leaf value (escape sequences decoded), as a converter reading whole
// messages does.
func BenchmarkParseDecodeAll(b *testing.B) {
	msgs, n := sampleSet(b)
	b.SetBytes(n)
	b.ReportAllocs()
	scratch := make([]byte, 0, 4096)
	for b.Loop() {
		for _, data := range msgs {
			m, err := Parse(data)
			if err != nil {
				b.Fatal(err)
			}
			walk(m, scratch)
		}
	}
	b.ReportMetric(float64(len(msgs))*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkParseLeafText parses every shared sample and reads every leaf
// value through EachLeafText (escape sequences decoded; values without
// escapes are slices of the message).
func BenchmarkParseLeafText(b *testing.B) {
	msgs, n := sampleSet(b)
	b.SetBytes(n)
	b.ReportAllocs()
	total := 0
	for b.Loop() {
		for _, data := range msgs {
			m, err := Parse(data)
			if err != nil {
				b.Fatal(err)
			}
			for _, text := range m.EachLeafText {
				total += len(text)
			}
		}
	}
	b.ReportMetric(float64(len(msgs))*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
