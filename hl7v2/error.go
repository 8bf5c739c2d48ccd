package hl7v2

import "fmt"

// ParseError says why bytes are not an HL7 v2 message and where.
type ParseError struct {
	Segment int    // 1-based segment number, 0 when not known
	Offset  int    // byte offset in the input
	Code    Code   // the HL7 table 0357 code an acknowledgment should carry
	Reason  string // what is wrong
}

func (e *ParseError) Error() string {
	if e.Segment > 0 {
		return fmt.Sprintf("hl7v2: segment %d (byte %d): %s", e.Segment, e.Offset, e.Reason)
	}
	return fmt.Sprintf("hl7v2: byte %d: %s", e.Offset, e.Reason)
}
