package mllp

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestWriteFrameRoundTrip(t *testing.T) {
	payloads := [][]byte{
		{},
		[]byte("MSH|^~\\&|A|B|C|D|20250101||ADT^A01|X1|P|2.5\r"),
		hl7Payload(),
		[]byte(strings.Repeat("OBX|1|TX|||synthetic text\r", 5000)),
	}
	var buf bytes.Buffer
	for _, p := range payloads {
		if err := WriteFrame(&buf, p); err != nil {
			t.Fatal(err)
		}
	}
	r := NewReader(&buf, 0)
	for i, want := range payloads {
		got, err := r.ReadFrame()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("frame %d: got %d bytes, want %d", i, len(got), len(want))
		}
	}
	if r.Skipped() != 0 {
		t.Fatalf("Skipped() = %d", r.Skipped())
	}
}

func TestWriteFrameBytes(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteFrame(&buf, []byte("AB")); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != "\x0bAB\x1c\r" {
		t.Fatalf("got %q", got)
	}
}

// writeCounter counts Write calls.
type writeCounter struct {
	calls int
	bytes.Buffer
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.calls++
	return w.Buffer.Write(p)
}

func TestWriteFrameOneWrite(t *testing.T) {
	var w writeCounter
	if err := WriteFrame(&w, hl7Payload()); err != nil {
		t.Fatal(err)
	}
	if w.calls != 1 {
		t.Fatalf("%d Write calls, want 1", w.calls)
	}
}

func TestWriteFrameRefusesFramingBytes(t *testing.T) {
	for _, p := range []string{"A\x1cB", "\x0bA", "AB\x1c"} {
		var buf bytes.Buffer
		if err := WriteFrame(&buf, []byte(p)); err == nil {
			t.Fatalf("%q: no error", p)
		}
		if buf.Len() != 0 {
			t.Fatalf("%q: wrote %q", p, buf.Bytes())
		}
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestWriteFrameError(t *testing.T) {
	boom := errors.New("boom")
	if err := WriteFrame(failWriter{boom}, []byte("A")); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the writer's error", err)
	}
}
