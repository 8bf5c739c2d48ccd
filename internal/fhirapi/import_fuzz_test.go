package fhirapi

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/concord-health/concord"
)

// chunkedReader reads at most n bytes at a time.
type chunkedReader struct {
	r io.Reader
	n int
}

func (c chunkedReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

// FuzzNDJSONReader feeds the $import line reader bodies cut into random
// reads, with small caps: it ends, never returns a line over its cap or
// with its line end, counts lines as the body has them, and reads no
// more than the body cap lets it.
func FuzzNDJSONReader(f *testing.F) {
	f.Add([]byte("{\"a\":1}\r\n{\"b\":2}\n\nlast"), uint8(8), uint16(100), uint8(3))
	f.Add([]byte("0123456789abcdef\nx\n"), uint8(4), uint16(12), uint8(1))
	f.Add([]byte("\r\n\r\n\n"), uint8(0), uint16(0), uint8(7))
	f.Fuzz(func(t *testing.T, body []byte, maxLine uint8, maxTotal uint16, chunk uint8) {
		rd := newNDJSONReader(chunkedReader{bytes.NewReader(body), int(chunk%16) + 1}, int(maxLine), int64(maxTotal))
		lines := 0
		for range len(body) + 2 {
			line, err := rd.next()
			if err == io.EOF {
				if len(body) > int(maxTotal) {
					t.Fatalf("EOF after reading past the cap of %d", maxTotal)
				}
				if want := bytes.Count(body, []byte("\n")) + btoi(len(body) > 0 && body[len(body)-1] != '\n'); rd.line != want {
					t.Fatalf("%d lines counted, the body has %d", rd.line, want)
				}
				return
			}
			var le *lineError
			switch {
			case errors.As(err, &le):
			case err != nil:
				if concord.ErrorCode(err) != concord.ETOOLARGE {
					t.Fatalf("error %v", err)
				}
				return
			case len(line) > int(maxLine) || bytes.HasSuffix(line, []byte("\n")):
				t.Fatalf("line %q (cap %d)", line, maxLine)
			}
			lines++
		}
		t.Fatalf("no end after %d lines", lines)
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
