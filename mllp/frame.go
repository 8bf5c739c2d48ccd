package mllp

import "errors"

// Framing bytes of MLLP.
const (
	// StartBlock (vertical tab) opens a frame.
	StartBlock = 0x0B
	// EndBlock (file separator) closes a frame's payload.
	EndBlock = 0x1C
	// CarriageReturn follows EndBlock to end a frame; it also ends every
	// HL7 v2 segment inside the payload.
	CarriageReturn = 0x0D
)

// DefaultMaxFrameSize is the largest payload, in bytes, accepted when no
// other limit is given.
const DefaultMaxFrameSize = 16 << 20

var (
	// ErrFrameTooLarge reports a frame whose payload exceeds the maximum
	// size. The rest of the frame is not read; the stream is out of sync.
	ErrFrameTooLarge = errors.New("mllp: frame too large")
	// ErrTruncated reports a frame that did not end: the stream ended, or
	// a new start block arrived, before its end block.
	ErrTruncated = errors.New("mllp: truncated frame")
	// ErrClosed reports the use of a Client after Close.
	ErrClosed = errors.New("mllp: client closed")
	// ErrNoAck reports that no matching acknowledgment arrived before the
	// deadline.
	ErrNoAck = errors.New("mllp: no acknowledgment")
)
