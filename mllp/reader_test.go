package mllp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// chunkReader returns its data in chunks of random sizes between 1 and
// max bytes.
type chunkReader struct {
	data []byte
	rng  *rand.Rand
	max  int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(1+c.rng.IntN(c.max), len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// readAll reads frames until io.EOF or a non-framing error and describes
// each outcome: "F:payload" for a frame, "truncated", "too large", "EOF"
// or "error: …".
func readAll(r *Reader, limit int) []string {
	var out []string
	for range limit {
		p, err := r.ReadFrame()
		switch {
		case err == nil:
			out = append(out, "F:"+string(p))
		case err == io.EOF:
			return append(out, "EOF")
		case errors.Is(err, ErrTruncated):
			out = append(out, "truncated")
		case errors.Is(err, ErrFrameTooLarge):
			out = append(out, "too large")
		default:
			return append(out, "error: "+err.Error())
		}
	}
	return append(out, "no end")
}

// splitReaders returns the ways the tests feed a stream to a Reader: whole,
// one byte at a time, split in two at every offset, and in random chunks.
func splitReaders(in []byte) map[string]func() io.Reader {
	m := map[string]func() io.Reader{
		"whole":    func() io.Reader { return bytes.NewReader(in) },
		"one byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(in)) },
		"data+EOF": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(in)) },
	}
	for i := 1; i < len(in); i++ {
		m[fmt.Sprintf("split at %d", i)] = func() io.Reader {
			return io.MultiReader(bytes.NewReader(in[:i]), bytes.NewReader(in[i:]))
		}
	}
	for seed := range uint64(20) {
		m[fmt.Sprintf("chunks seed %d", seed)] = func() io.Reader {
			return &chunkReader{data: in, rng: rand.New(rand.NewPCG(seed, 1)), max: 1 + int(seed%7)}
		}
	}
	return m
}

func TestReaderFrames(t *testing.T) {
	const msg = "MSH|^~\\&|SYNTH|FAC|CONCORD|FAC|20250101||ADT^A01|C1|P|2.5\rPID|1||SYNTH1\r"
	cases := []struct {
		name    string
		in      string
		want    []string
		skipped int64
	}{
		{"one frame", "\x0b" + msg + "\x1c\r", []string{"F:" + msg, "EOF"}, 0},
		{"two frames", "\x0bA\x1c\r\x0bB\x1c\r", []string{"F:A", "F:B", "EOF"}, 0},
		{"garbage before", "\r\n\n xx\x0bA\x1c\r", []string{"F:A", "EOF"}, 6},
		{"garbage between and after", "\x0bA\x1c\r\n\n\x0bB\x1c\r\n", []string{"F:A", "F:B", "EOF"}, 3},
		{"end block without CR", "\x0bA\x1c\x0bB\x1c", []string{"F:A", "F:B", "EOF"}, 0},
		{"byte after end block is garbage", "\x0bA\x1cX\x0bB\x1c\r", []string{"F:A", "F:B", "EOF"}, 1},
		{"second CR is garbage", "\x0bA\x1c\r\r\x0bB\x1c\r", []string{"F:A", "F:B", "EOF"}, 1},
		{"stray end block outside frames", "\x1c\r\x0bA\x1c\r", []string{"F:A", "EOF"}, 2},
		{"empty payload", "\x0b\x1c\r\x0bA\x1c\r", []string{"F:", "F:A", "EOF"}, 0},
		{"LF segments kept", "\x0bMSH|x\nPID|1\n\x1c\r", []string{"F:MSH|x\nPID|1\n", "EOF"}, 0},
		{"only garbage", "hello\r\n", []string{"EOF"}, 7},
		{"empty stream", "", []string{"EOF"}, 0},
		{"EOF inside frame", "\x0bABC", []string{"truncated", "EOF"}, 0},
		{"EOF after start block", "\x0bA\x1c\r\x0b", []string{"F:A", "truncated", "EOF"}, 0},
		{"start block inside frame", "\x0bAB\x0bCD\x1c\r", []string{"truncated", "F:CD", "EOF"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for how, mk := range splitReaders([]byte(tc.in)) {
				r := NewReader(mk(), 1024)
				got := readAll(r, 20)
				if strings.Join(got, "|") != strings.Join(tc.want, "|") {
					t.Fatalf("%s: got %q, want %q", how, got, tc.want)
				}
				if r.Skipped() != tc.skipped {
					t.Fatalf("%s: Skipped() = %d, want %d", how, r.Skipped(), tc.skipped)
				}
			}
		})
	}
}

func TestReaderPayloadIsCallersCopy(t *testing.T) {
	r := NewReader(strings.NewReader("\x0bAAAA\x1c\r\x0bBBBB\x1c\r"), 0)
	a, err := r.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	if string(a) != "AAAA" {
		t.Fatalf("first payload changed to %q by the next read", a)
	}
}

func TestReaderMaxFrameSize(t *testing.T) {
	const max = 8
	exact := "\x0b" + strings.Repeat("A", max) + "\x1c\r"
	over := "\x0b" + strings.Repeat("B", max+1) + "\x1c\r"
	for how, mk := range splitReaders([]byte(exact + over)) {
		r := NewReader(mk(), max)
		p, err := r.ReadFrame()
		if err != nil || len(p) != max {
			t.Fatalf("%s: frame at the limit: %q, %v", how, p, err)
		}
		if _, err := r.ReadFrame(); !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("%s: frame one byte over the limit: %v, want ErrFrameTooLarge", how, err)
		}
	}
}

// endlessFrame is a stream that opens a frame and never ends it.
type endlessFrame struct{ read int }

func (e *endlessFrame) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'A'
	}
	if e.read == 0 {
		p[0] = StartBlock
	}
	e.read += len(p)
	return len(p), nil
}

func TestReaderTooLargeStopsReading(t *testing.T) {
	const max = 1 << 20
	src := &endlessFrame{}
	r := NewReader(src, max)
	if _, err := r.ReadFrame(); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("got %v, want ErrFrameTooLarge", err)
	}
	if src.read > max+2*readBufferSize {
		t.Fatalf("read %d bytes for a %d-byte limit", src.read, max)
	}
}

func TestReaderDefaultMax(t *testing.T) {
	if r := NewReader(strings.NewReader(""), 0); r.max != DefaultMaxFrameSize {
		t.Fatalf("max = %d, want DefaultMaxFrameSize", r.max)
	}
}

// TestReaderEndBlockWithoutCRDoesNotWait checks that a frame is returned as
// soon as its end block arrives: a sender that omits the CR and waits for
// its acknowledgment must not be kept waiting.
func TestReaderEndBlockWithoutCRDoesNotWait(t *testing.T) {
	pr, pw := io.Pipe()
	defer pr.Close()
	r := NewReader(pr, 0)
	type result struct {
		p   []byte
		err error
	}
	read := func() result {
		ch := make(chan result, 1)
		go func() {
			p, err := r.ReadFrame()
			ch <- result{p, err}
		}()
		select {
		case res := <-ch:
			return res
		case <-time.After(5 * time.Second):
			pw.Close()
			t.Fatal("ReadFrame waited for the byte after the end block")
			return result{}
		}
	}
	go pw.Write([]byte("\x0bA\x1c"))
	if res := read(); res.err != nil || string(res.p) != "A" {
		t.Fatalf("got %q, %v", res.p, res.err)
	}
	go func() {
		pw.Write([]byte("\r\x0bB\x1c\r"))
		pw.Close()
	}()
	if res := read(); res.err != nil || string(res.p) != "B" {
		t.Fatalf("got %q, %v", res.p, res.err)
	}
	if res := read(); res.err != io.EOF {
		t.Fatalf("got %q, %v, want io.EOF", res.p, res.err)
	}
	if r.Skipped() != 0 {
		t.Fatalf("the late CR was counted as skipped: %d", r.Skipped())
	}
}

func TestReaderUnderlyingError(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("\x0bAB"), iotest.ErrReader(boom)), 0)
	if _, err := r.ReadFrame(); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the reader's error", err)
	}
}

// hl7Payload returns a synthetic ~2 KB ORU^R01 message.
func hl7Payload() []byte {
	var b bytes.Buffer
	b.WriteString("MSH|^~\\&|SYNTH-LIS|SYNTH-LAB|CONCORD|SYNTH-HOSP|20250101120000||ORU^R01^ORU_R01|SYNTH000001|P|2.5.1\r")
	b.WriteString("PID|1||SYNTH123456^^^SYNTH^MR||TESTPATIENT^SYNTHETIC^A||19700101|U|||1 TEST STREET^^TESTTOWN^^00000\r")
	b.WriteString("ORC|RE|SYNTH-ORD-1|SYNTH-FIL-1||CM\r")
	b.WriteString("OBR|1|SYNTH-ORD-1|SYNTH-FIL-1|24323-8^Comprehensive metabolic panel^LN|||20250101100000\r")
	for i := 0; b.Len() < 2000; i++ {
		fmt.Fprintf(&b, "OBX|%d|NM|2345-7^Glucose^LN||%d|mg/dL|70-99|N|||F|||20250101110000\r", i+1, 80+i)
	}
	return b.Bytes()
}

// repeatReader returns its data over and over.
type repeatReader struct {
	data []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := copy(p, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

func BenchmarkReadFrame(b *testing.B) {
	payload := hl7Payload()
	var frame bytes.Buffer
	if err := WriteFrame(&frame, payload); err != nil {
		b.Fatal(err)
	}
	r := NewReader(&repeatReader{data: frame.Bytes()}, 0)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := r.ReadFrame()
		if err != nil || len(p) != len(payload) {
			b.Fatalf("got %d bytes, %v", len(p), err)
		}
	}
}
