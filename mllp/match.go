package mllp

import "bytes"

// utf8BOM is the byte order mark some senders put before MSH.
const utf8BOM = "\xEF\xBB\xBF"

// MatchControlID reports whether ack acknowledges msg: whether the MSA-2
// field of ack equals the MSH-10 field (message control ID) of msg, byte
// for byte. It reports false when either is missing or empty, so a frame
// that is not an acknowledgment never matches.
func MatchControlID(msg, ack []byte) bool {
	id := controlID(msg)
	return len(id) > 0 && bytes.Equal(id, ackControlID(ack))
}

// ControlID returns the message control ID (MSH-10) of an HL7 v2 message,
// or "" if the message does not start with an MSH segment or has no
// MSH-10. A UTF-8 byte order mark and blank lines before MSH are
// tolerated; segments may end with CR or LF.
func ControlID(msg []byte) string { return string(controlID(msg)) }

// AckControlID returns the acknowledged control ID (MSA-2) of an HL7 v2
// acknowledgment, or "" if it does not start with an MSH segment or has no
// MSA segment or no MSA-2. The field separator is the one MSH declares.
func AckControlID(ack []byte) string { return string(ackControlID(ack)) }

func controlID(msg []byte) []byte {
	seg, _, sep, ok := header(msg)
	if !ok {
		return nil
	}
	// MSH-1 is the separator itself, so splitting MSH on it puts MSH-n at
	// index n-1: MSH-10 is field 9.
	return field(seg, sep, 9)
}

func ackControlID(ack []byte) []byte {
	_, rest, sep, ok := header(ack)
	if !ok {
		return nil
	}
	for len(rest) > 0 {
		end := segmentEnd(rest)
		seg := rest[:end]
		if len(seg) >= 3 && string(seg[:3]) == "MSA" && (len(seg) == 3 || seg[3] == sep) {
			return field(seg, sep, 2)
		}
		if end == len(rest) {
			break
		}
		rest = rest[end+1:]
	}
	return nil
}

// header finds the MSH segment at the start of msg and returns it, the
// bytes after it and its field separator.
func header(msg []byte) (seg, rest []byte, sep byte, ok bool) {
	if len(msg) >= len(utf8BOM) && string(msg[:len(utf8BOM)]) == utf8BOM {
		msg = msg[len(utf8BOM):]
	}
	for len(msg) > 0 && (msg[0] == '\r' || msg[0] == '\n') {
		msg = msg[1:]
	}
	if len(msg) < 4 || string(msg[:3]) != "MSH" {
		return nil, nil, 0, false
	}
	sep = msg[3]
	if sep == '\r' || sep == '\n' {
		return nil, nil, 0, false
	}
	end := segmentEnd(msg)
	seg = msg[:end]
	if end < len(msg) {
		rest = msg[end+1:]
	}
	return seg, rest, sep, true
}

// segmentEnd returns the index of the CR or LF that ends the first segment
// of b, or len(b).
func segmentEnd(b []byte) int {
	for i, c := range b {
		if c == '\r' || c == '\n' {
			return i
		}
	}
	return len(b)
}

// field returns the field at index n of seg split on sep (index 0 is the
// segment name), or nil if there is none.
func field(seg []byte, sep byte, n int) []byte {
	for range n {
		i := bytes.IndexByte(seg, sep)
		if i < 0 {
			return nil
		}
		seg = seg[i+1:]
	}
	if i := bytes.IndexByte(seg, sep); i >= 0 {
		seg = seg[:i]
	}
	return seg
}
