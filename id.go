package concord

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
	"time"
)

// NewID returns a new identifier: 48 bits of milliseconds then 48 random
// bits, in base32 "hex" lower case (20 characters). IDs are unique and
// ordered by creation, so new rows land at the end of an index; they are
// valid FHIR ids.
func NewID(now time.Time) (string, error) {
	var b [12]byte
	ms := uint64(now.UnixMilli())
	for i := 0; i < 6; i++ {
		b[i] = byte(ms >> (40 - 8*i))
	}
	if _, err := rand.Read(b[6:]); err != nil {
		return "", WrapError(EINTERNAL, err, "random source")
	}
	return strings.ToLower(base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])), nil
}

// IsFHIRID reports whether s is a valid FHIR id: 1 to 64 characters of
// A-Z, a-z, 0-9, '-' and '.' (FHIR R4 datatype id).
func IsFHIRID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
