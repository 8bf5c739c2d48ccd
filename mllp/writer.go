package mllp

import (
	"bytes"
	"fmt"
	"io"
)

// WriteFrame writes payload to w as one MLLP frame: start block, payload,
// end block, carriage return. The frame goes out in a single Write call, so
// frames from callers that serialise their calls are never interleaved.
//
// A payload that contains a start or end block cannot be framed (the
// receiver would cut it short); WriteFrame refuses it and writes nothing.
func WriteFrame(w io.Writer, payload []byte) error {
	if err := checkPayload(payload); err != nil {
		return err
	}
	n := len(payload)
	buf := make([]byte, n+3)
	buf[0] = StartBlock
	copy(buf[1:], payload)
	buf[n+1] = EndBlock
	buf[n+2] = CarriageReturn
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("mllp: write frame: %w", err)
	}
	return nil
}

// checkPayload reports an error if payload holds a start or end block.
func checkPayload(payload []byte) error {
	for _, b := range [...]byte{StartBlock, EndBlock} {
		if i := bytes.IndexByte(payload, b); i >= 0 {
			return fmt.Errorf("mllp: payload holds framing byte 0x%02X at offset %d", b, i)
		}
	}
	return nil
}
