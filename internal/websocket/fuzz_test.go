package websocket

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzReadFrame: any input gives a frame or an error, never a panic or a
// payload over the limit; a frame read is what its bytes say.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0x81, 0x85, 1, 2, 3, 4, 'h' ^ 1, 'e' ^ 2, 'l' ^ 3, 'l' ^ 4, 'o' ^ 1})
	f.Add([]byte{0x89, 0x80, 0, 0, 0, 0})
	f.Add([]byte{0x82, 0xFE, 0x01, 0x00, 0, 0, 0, 0})
	f.Add([]byte{0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Add([]byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for {
			fr, err := ReadFrame(r, 1024)
			if err != nil {
				return
			}
			if len(fr.Payload) > 1024 || (fr.Op >= OpClose && (len(fr.Payload) > maxControl || !fr.Fin)) {
				t.Fatalf("frame over its limits: op %d, %d bytes", fr.Op, len(fr.Payload))
			}
			// Written back by a server and read as a client would, it is
			// the same frame.
			out := AppendFrame(nil, fr.Op, fr.Payload)
			if !bytes.HasSuffix(out, fr.Payload) || out[0]&0x0F != fr.Op {
				t.Fatal("AppendFrame does not round-trip")
			}
		}
	})
}
