// Package mllp implements the HL7 v2 Minimal Lower Layer Protocol (MLLP):
// the framing that carries HL7 v2 messages over a TCP stream, with a
// server that hands each received message to a Handler and a client that
// sends messages and waits for their acknowledgments.
//
// A frame is a start block (0x0B), the payload (an HL7 message whose
// segments end with a carriage return), an end block (0x1C) and a carriage
// return (0x0D). Reader parses frames from any io.Reader and tolerates the
// habits of real senders: bytes before a start block are skipped and
// counted, and an end block without the carriage return still ends the
// frame. WriteFrame writes one frame in a single Write call.
//
// Server accepts connections (plain TCP or TLS with client certificates),
// rejects peers outside an allow-list before reading a byte, caps frame
// sizes before allocating, puts a deadline on every read and write and
// shuts down gracefully. Client sends one message at a time over one
// connection, dialled lazily and redialled after any error, and returns the
// first frame that acknowledges the message (by default, the one whose
// MSA-2 equals the message's MSH-10).
//
// The package depends only on the standard library and knows nothing about
// HL7 beyond the few bytes MatchControlID reads.
package mllp
