package websocket

import (
	"bufio"
	"encoding/binary"
	"io"
)

// Opcodes (RFC 6455 section 5.2).
const (
	OpContinuation byte = 0x0
	OpText         byte = 0x1
	OpBinary       byte = 0x2
	OpClose        byte = 0x8
	OpPing         byte = 0x9
	OpPong         byte = 0xA
)

// Close status codes (RFC 6455 section 7.4.1).
const (
	CloseNormal        uint16 = 1000
	CloseGoingAway     uint16 = 1001
	CloseProtocolError uint16 = 1002
	CloseInvalidData   uint16 = 1007
	ClosePolicy        uint16 = 1008
	CloseTooBig        uint16 = 1009
	CloseInternal      uint16 = 1011
)

// maxControl is the largest control frame payload (section 5.5).
const maxControl = 125

// Frame is one frame, unmasked.
type Frame struct {
	Fin     bool
	Op      byte
	Payload []byte
}

// ProtocolError is a peer breaking the protocol: the connection is
// closed with Code.
type ProtocolError struct {
	Code   uint16
	Reason string
}

func (e *ProtocolError) Error() string { return "websocket: " + e.Reason }

func protocolError(reason string) error {
	return &ProtocolError{Code: CloseProtocolError, Reason: reason}
}

// ReadFrame reads one frame a client sent: it must be masked (section
// 5.1), use no reserved bits (no extension is negotiated) and a known
// opcode, and its payload is at most max bytes (control frames, which may
// come between fragments, at most 125 and unfragmented). The length is checked before anything is
// allocated.
func ReadFrame(r *bufio.Reader, max int) (Frame, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return Frame{}, err
	}
	f := Frame{Fin: h[0]&0x80 != 0, Op: h[0] & 0x0F}
	if h[0]&0x70 != 0 {
		return Frame{}, protocolError("reserved bits set without an extension")
	}
	switch f.Op {
	case OpContinuation, OpText, OpBinary:
	case OpClose, OpPing, OpPong:
		if !f.Fin {
			return Frame{}, protocolError("fragmented control frame")
		}
	default:
		return Frame{}, protocolError("unknown opcode")
	}
	if h[1]&0x80 == 0 {
		return Frame{}, protocolError("client frame not masked")
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Frame{}, unexpected(err)
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
		if n < 126 {
			return Frame{}, protocolError("length not in its shortest form")
		}
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Frame{}, unexpected(err)
		}
		n = binary.BigEndian.Uint64(b[:])
		if n>>63 != 0 {
			return Frame{}, protocolError("length with the high bit set")
		}
		if n <= 0xFFFF {
			return Frame{}, protocolError("length not in its shortest form")
		}
	}
	if f.Op >= OpClose && n > maxControl {
		return Frame{}, protocolError("control frame longer than 125 bytes")
	}
	if f.Op < OpClose && n > uint64(max) {
		return Frame{}, &ProtocolError{Code: CloseTooBig, Reason: "frame too large"}
	}
	var key [4]byte
	if _, err := io.ReadFull(r, key[:]); err != nil {
		return Frame{}, unexpected(err)
	}
	f.Payload = make([]byte, n)
	if _, err := io.ReadFull(r, f.Payload); err != nil {
		return Frame{}, unexpected(err)
	}
	mask(f.Payload, key)
	return f, nil
}

// mask applies (or removes) a masking key (section 5.3).
func mask(b []byte, key [4]byte) {
	for i := range b {
		b[i] ^= key[i&3]
	}
}

// unexpected turns an end of input inside a frame into
// io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// AppendFrame appends a server frame (unmasked, final) to b.
func AppendFrame(b []byte, op byte, payload []byte) []byte {
	b = append(b, 0x80|op)
	switch n := len(payload); {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xFFFF:
		b = append(b, 126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}
