package mllp

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// readBufferSize is the size of the buffer a Reader puts in front of its
// source: large enough for a typical HL7 message in one read, small enough
// to keep per-connection memory modest.
const readBufferSize = 8 << 10

// Reader reads MLLP frames from a byte stream.
//
// Bytes before a start block are skipped and counted (see Skipped). An end
// block ends a frame whether or not a carriage return follows it; a byte
// other than a carriage return after the end block is treated as the start
// of what comes next. ReadFrame never waits for the byte after an end
// block, so a sender that omits the carriage return and waits for its
// acknowledgment is served at once.
//
// After ErrFrameTooLarge or ErrTruncated the stream is out of sync with
// the sender: callers reading from a connection should close it. A Reader
// is not safe for concurrent use.
type Reader struct {
	br      *bufio.Reader
	max     int
	skipped int64
	// pendingCR is set when a frame ended with an end block whose
	// carriage return had not arrived yet: if the next byte is that
	// carriage return, it is dropped silently rather than counted.
	pendingCR bool
}

// NewReader returns a Reader that reads frames from r and refuses payloads
// larger than maxFrame bytes. A maxFrame of zero or less means
// DefaultMaxFrameSize.
func NewReader(r io.Reader, maxFrame int) *Reader {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrameSize
	}
	return &Reader{br: bufio.NewReaderSize(r, readBufferSize), max: maxFrame}
}

// Skipped returns the number of bytes skipped so far because they were not
// inside a frame (garbage, keep-alive newlines, the rest of a frame after
// an error).
func (r *Reader) Skipped() int64 { return r.skipped }

// ReadFrame reads the next frame and returns its payload, without the
// framing bytes, in a newly allocated slice the caller owns.
//
// It returns io.EOF only when the stream ends between frames, ErrTruncated
// (wrapped) when it ends inside a frame or a start block arrives inside a
// frame, and ErrFrameTooLarge (wrapped) as soon as a payload exceeds the
// maximum size, without reading the rest of it. Errors of the underlying
// reader are returned as they are.
func (r *Reader) ReadFrame() ([]byte, error) {
	if err := r.seek(); err != nil {
		return nil, err
	}
	r.discard(1) // the start block
	return r.readPayload()
}

// seek skips bytes until a start block is the next byte, leaving it
// unread. It returns io.EOF if the stream ends first.
func (r *Reader) seek() error {
	for {
		buf, err := r.buffered()
		if err != nil {
			return err
		}
		if r.pendingCR {
			r.pendingCR = false
			if buf[0] == CarriageReturn {
				r.discard(1)
				continue
			}
		}
		if i := bytes.IndexByte(buf, StartBlock); i >= 0 {
			r.skip(i)
			return nil
		}
		r.skip(len(buf))
	}
}

// readPayload reads the payload after a start block up to and including
// the end block, and the carriage return after it if already buffered.
func (r *Reader) readPayload() ([]byte, error) {
	var payload []byte
	for {
		buf, err := r.buffered()
		if err != nil {
			if err == io.EOF {
				return nil, fmt.Errorf("%w: stream ended after %d payload bytes", ErrTruncated, len(payload))
			}
			return nil, err
		}
		chunk := buf
		end := bytes.IndexByte(buf, EndBlock)
		if end >= 0 {
			chunk = buf[:end]
		}
		if i := bytes.IndexByte(chunk, StartBlock); i >= 0 {
			// Leave the new start block unread: a caller that carries on
			// despite the error reads the frame it opens.
			r.discard(i)
			return nil, fmt.Errorf("%w: start block inside a frame after %d payload bytes", ErrTruncated, len(payload)+i)
		}
		if len(chunk) > r.max-len(payload) {
			r.discard(len(chunk))
			return nil, fmt.Errorf("%w: payload exceeds %d bytes", ErrFrameTooLarge, r.max)
		}
		payload = r.grow(payload, len(chunk), end >= 0)
		payload = append(payload, chunk...)
		if end < 0 {
			r.discard(len(chunk))
			continue
		}
		r.discard(end + 1)
		r.pendingCR = true
		if r.br.Buffered() > 0 {
			// The byte after the end block is already here: drop it if it
			// is the carriage return; otherwise leave it for seek.
			r.pendingCR = false
			if next, _ := r.br.Peek(1); next[0] == CarriageReturn {
				r.discard(1)
			}
		}
		return payload, nil
	}
}

// buffered returns the bytes in the buffer, reading once from the
// underlying reader when the buffer is empty.
func (r *Reader) buffered() ([]byte, error) {
	if r.br.Buffered() == 0 {
		if _, err := r.br.Peek(1); err != nil {
			return nil, err
		}
	}
	// Peek cannot fail for no more bytes than are buffered.
	buf, _ := r.br.Peek(r.br.Buffered())
	return buf, nil
}

// grow returns p with room for n more bytes, never growing its capacity
// beyond the maximum frame size. The caller has checked that
// len(p)+n <= r.max. When last is set no more bytes will follow and the
// capacity is exact.
func (r *Reader) grow(p []byte, n int, last bool) []byte {
	need := len(p) + n
	if need <= cap(p) {
		return p
	}
	c := need
	if !last {
		c = min(max(2*cap(p), need, 512), r.max)
	}
	np := make([]byte, len(p), c)
	copy(np, p)
	return np
}

// discard drops n buffered bytes that belong to a frame.
func (r *Reader) discard(n int) {
	// Discarding no more than is buffered cannot fail.
	_, _ = r.br.Discard(n)
}

// skip drops n buffered bytes that are not inside a frame and counts them.
func (r *Reader) skip(n int) {
	r.discard(n)
	r.skipped += int64(n)
}
