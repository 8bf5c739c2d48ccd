package hl7v2

import "fmt"

// Delimiters are the encoding characters of a message: MSH-1 and MSH-2.
type Delimiters struct {
	Field        byte // MSH-1, usually '|'
	Component    byte // usually '^'
	Repetition   byte // usually '~'
	Escape       byte // usually '\'
	Subcomponent byte // usually '&'
	Truncation   byte // v2.7 and later, usually '#'; 0 when not declared
}

// DefaultDelimiters are the delimiters HL7 recommends and nearly every
// system uses.
var DefaultDelimiters = Delimiters{Field: '|', Component: '^', Repetition: '~', Escape: '\\', Subcomponent: '&'}

// EncodingCharacters returns MSH-2 for d.
func (d Delimiters) EncodingCharacters() string {
	b := []byte{d.Component, d.Repetition, d.Escape, d.Subcomponent}
	if d.Truncation != 0 {
		b = append(b, d.Truncation)
	}
	return string(b)
}

// validate checks that the delimiters are distinct and usable: printable,
// not letters or digits, and not segment terminators.
func (d Delimiters) validate() error {
	all := []byte{d.Field, d.Component, d.Repetition, d.Escape, d.Subcomponent}
	if d.Truncation != 0 {
		all = append(all, d.Truncation)
	}
	for i, c := range all {
		if c < 0x21 || c > 0x7e || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' {
			return fmt.Errorf("encoding character %q is not a printable symbol", c)
		}
		for _, o := range all[:i] {
			if o == c {
				return fmt.Errorf("encoding character %q is declared twice", c)
			}
		}
	}
	return nil
}
