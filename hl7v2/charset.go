package hl7v2

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
)

// charsets maps MSH-18 values (HL7 table 0211) to decoders. A nil entry
// means the bytes are already UTF-8 (ASCII is a subset).
var charsets = map[string]*charmap.Charmap{
	"ASCII":         nil,
	"UNICODE UTF-8": nil,
	"ISO IR192":     nil,
	"ISO IR6":       nil,
	"8859/1":        charmap.ISO8859_1,
	"ISO IR100":     charmap.ISO8859_1,
	"8859/2":        charmap.ISO8859_2,
	"ISO IR101":     charmap.ISO8859_2,
	"8859/3":        charmap.ISO8859_3,
	"ISO IR109":     charmap.ISO8859_3,
	"8859/4":        charmap.ISO8859_4,
	"ISO IR110":     charmap.ISO8859_4,
	"8859/5":        charmap.ISO8859_5,
	"ISO IR144":     charmap.ISO8859_5,
	"8859/6":        charmap.ISO8859_6,
	"ISO IR127":     charmap.ISO8859_6,
	"8859/7":        charmap.ISO8859_7,
	"ISO IR126":     charmap.ISO8859_7,
	"8859/8":        charmap.ISO8859_8,
	"ISO IR138":     charmap.ISO8859_8,
	"8859/9":        charmap.ISO8859_9,
	"ISO IR148":     charmap.ISO8859_9,
	"8859/15":       charmap.ISO8859_15,
}

// declaredCharset returns the first repetition of MSH-18, or "".
func declaredCharset(text []byte, d Delimiters) string {
	msh := text
	if end := bytes.IndexByte(msh, '\r'); end >= 0 {
		msh = msh[:end]
	}
	if end := bytes.IndexByte(msh, '\n'); end >= 0 {
		msh = msh[:end]
	}
	// MSH-18 is the 17th piece after splitting on the field separator.
	v := piece(msh, d.Field, 18)
	if i := bytes.IndexByte(v, d.Repetition); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(string(v))
}

// charsetDecoder returns a function turning text in the declared character
// set into UTF-8, nil when the text is UTF-8 already, or an error for a
// character set this package does not support.
func charsetDecoder(cs string) (func([]byte) ([]byte, error), error) {
	cm, ok := charsets[cs]
	if !ok {
		return nil, errorString("MSH-18 character set " + cs + " is not supported (ASCII, 8859/1-9, 8859/15, UNICODE UTF-8)")
	}
	if cm == nil {
		return nil, nil
	}
	return func(b []byte) ([]byte, error) {
		if isASCII(b) {
			return b, nil
		}
		return cm.NewDecoder().Bytes(b)
	}, nil
}

// charsetEncoder returns a function turning UTF-8 text into the declared
// character set, or nil when none is needed.
func charsetEncoder(cs string) func([]byte) ([]byte, error) {
	cm := charsets[cs]
	if cm == nil {
		return nil
	}
	return func(b []byte) ([]byte, error) {
		if isASCII(b) {
			return b, nil
		}
		return encoding.ReplaceUnsupported(cm.NewEncoder()).Bytes(b)
	}
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
