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
	_, err := writeFrame(w, payload, nil)
	return err
}

// writeFrame is WriteFrame for a payload already checked, building the
// frame in buf (grown if needed) and returning it for reuse.
func writeFrame(w io.Writer, payload, buf []byte) ([]byte, error) {
	buf = append(append(append(buf[:0], StartBlock), payload...), EndBlock, CarriageReturn)
	if _, err := w.Write(buf); err != nil {
		return buf, fmt.Errorf("mllp: write frame: %w", err)
	}
	return buf, nil
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
