package hl7v2

import "bytes"

// Unescape appends src to dst with HL7 escape sequences decoded and
// returns the result (HL7 v2.8 chapter 2, section 2.7, "Use of escape
// sequences in text fields"):
//
//	\F\ \S\ \T\ \R\ \E\ \P\  the field, component, subcomponent,
//	                        repetition, escape and truncation characters
//	\Xhh…\                  bytes given in hexadecimal
//	\.br\                   a line break, decoded as "\n"
//	\.sp n\                 n line breaks (1 when n is absent)
//	\H\ \N\ \.fi\ \.nf\ \.in n\ \.ti n\ \.sk n\ \.ce\
//	                        formatting hints, dropped from plain text
//	\Cxxyy\ \Mxxyyzz\       character set switches, dropped
//
// Locally defined sequences (\Z…\) and anything unrecognised or unclosed
// are kept exactly as written, so no text is ever lost.
func Unescape(dst, src []byte, d *Delimiters) []byte {
	esc := d.Escape
	for {
		i := bytes.IndexByte(src, esc)
		if i < 0 {
			return append(dst, src...)
		}
		dst = append(dst, src[:i]...)
		src = src[i:]
		end := bytes.IndexByte(src[1:], esc)
		if end < 0 {
			return append(dst, src...) // unclosed: keep as written
		}
		seq := src[1 : 1+end]
		if out, ok := decodeSequence(dst, seq, d); ok {
			dst = out
		} else {
			dst = append(dst, src[:end+2]...)
		}
		src = src[end+2:]
	}
}

// decodeSequence appends the meaning of one escape sequence (without its
// surrounding escape characters) and reports whether it was recognised.
func decodeSequence(dst, seq []byte, d *Delimiters) ([]byte, bool) {
	if len(seq) == 1 {
		switch seq[0] {
		case 'F':
			return append(dst, d.Field), true
		case 'S':
			return append(dst, d.Component), true
		case 'T':
			return append(dst, d.Subcomponent), true
		case 'R':
			return append(dst, d.Repetition), true
		case 'E':
			return append(dst, d.Escape), true
		case 'P':
			if d.Truncation != 0 {
				return append(dst, d.Truncation), true
			}
			return dst, false
		case 'H', 'N':
			return dst, true
		}
		return dst, false
	}
	if len(seq) == 0 {
		return dst, false
	}
	switch seq[0] {
	case 'X':
		hex := seq[1:]
		if len(hex)%2 != 0 || len(hex) == 0 {
			return dst, false
		}
		for i := 0; i < len(hex); i += 2 {
			hi, ok1 := unhex(hex[i])
			lo, ok2 := unhex(hex[i+1])
			if !ok1 || !ok2 {
				return dst, false
			}
			dst = append(dst, hi<<4|lo)
		}
		return dst, true
	case 'C': // \Cxxyy\: single-byte character set switch
		return dst, isHex(seq[1:]) && len(seq) == 5
	case 'M': // \Mxxyy\ or \Mxxyyzz\: multi-byte character set switch
		return dst, isHex(seq[1:]) && (len(seq) == 5 || len(seq) == 7)
	case '.':
		cmd := seq[1:]
		switch {
		case bytes.Equal(cmd, []byte("br")):
			return append(dst, '\n'), true
		case bytes.HasPrefix(cmd, []byte("sp")):
			n, ok := formatArg(cmd[2:], 1)
			if !ok {
				return dst, false
			}
			for ; n > 0 && n < 100; n-- {
				dst = append(dst, '\n')
			}
			return dst, true
		case bytes.Equal(cmd, []byte("fi")), bytes.Equal(cmd, []byte("nf")), bytes.Equal(cmd, []byte("ce")):
			return dst, true
		case bytes.HasPrefix(cmd, []byte("in")), bytes.HasPrefix(cmd, []byte("ti")), bytes.HasPrefix(cmd, []byte("sk")):
			_, ok := formatArg(cmd[2:], 0)
			return dst, ok
		}
	}
	return dst, false
}

// formatArg reads the optional signed number after a formatting command.
func formatArg(b []byte, def int) (int, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return def, true
	}
	sign := 1
	if b[0] == '+' || b[0] == '-' {
		if b[0] == '-' {
			sign = -1
		}
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 4 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return sign * n, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func isHex(b []byte) bool {
	for _, c := range b {
		if _, ok := unhex(c); !ok {
			return false
		}
	}
	return true
}

// Escape appends text to dst with every delimiter, and line breaks,
// replaced by its escape sequence, so that the text can stand as one
// leaf value. Line feeds become \.br\ and carriage returns \X0D\.
func Escape(dst []byte, text string, d *Delimiters) []byte {
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch c {
		case d.Escape:
			dst = append(dst, d.Escape, 'E', d.Escape)
		case d.Field:
			dst = append(dst, d.Escape, 'F', d.Escape)
		case d.Component:
			dst = append(dst, d.Escape, 'S', d.Escape)
		case d.Subcomponent:
			dst = append(dst, d.Escape, 'T', d.Escape)
		case d.Repetition:
			dst = append(dst, d.Escape, 'R', d.Escape)
		case '\n':
			dst = append(dst, d.Escape, '.', 'b', 'r', d.Escape)
		case '\r':
			dst = append(dst, d.Escape, 'X', '0', 'D', d.Escape)
		default:
			if d.Truncation != 0 && c == d.Truncation {
				dst = append(dst, d.Escape, 'P', d.Escape)
			} else {
				dst = append(dst, c)
			}
		}
	}
	return dst
}
