package mllp

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReader feeds arbitrary bytes through a Reader with a small limit:
// it must not panic, never return a payload over the limit or holding a
// framing byte, and never account for more bytes than it was given.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"",
		"\x0bMSH|^~\\&|A|B|C|D|20250101||ADT^A01|X1|P|2.5\rPID|1\r\x1c\r",
		"\r\n garbage \x0bA\x1c\r\n\x0bB\x1c",
		"\x0b\x1c\r\x0b\x1c\x0b",
		"\x0bAB\x0bCD\x1c\r\x1c\r\x0b",
		"\x0b" + string(bytes.Repeat([]byte("A"), 65)) + "\x1c\r\x0bB\x1c\r",
		"\x1c\x1c\r\r\x0b\x0b\x0b\x1c",
	} {
		f.Add([]byte(s))
	}
	const max = 64
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in), max)
		var total int64
		for range len(in) + 2 {
			p, err := r.ReadFrame()
			if err == io.EOF {
				break
			}
			if err != nil {
				if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrFrameTooLarge) {
					t.Fatalf("unexpected error %v", err)
				}
				continue
			}
			if len(p) > max {
				t.Fatalf("payload of %d bytes over the limit %d", len(p), max)
			}
			if bytes.IndexByte(p, StartBlock) >= 0 || bytes.IndexByte(p, EndBlock) >= 0 {
				t.Fatalf("payload %q holds a framing byte", p)
			}
			total += int64(len(p))
		}
		if total+r.Skipped() > int64(len(in)) {
			t.Fatalf("payloads (%d) + skipped (%d) exceed the input (%d)", total, r.Skipped(), len(in))
		}
		if _, err := r.ReadFrame(); err != io.EOF {
			t.Fatalf("after the end of the input: %v, want io.EOF", err)
		}
	})
}
