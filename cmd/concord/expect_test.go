package main

import (
	"os"
	"testing"

	"github.com/concord-health/concord/hl7v2"
)

// expectedAck returns what the default channel (with validation on)
// answers to the sample in file: the MSA-1 code, or "" when the sender's
// MSH-15 asks for no accept acknowledgment in that case. Which samples
// break the standard, and why, is tested in package hl7v2; here it only
// sets the expectation for transport tests.
func expectedAck(t *testing.T, file string) string {
	m, code := validated(t, file)
	return ackFor(m, code)
}

// ackFor returns what concord send prints for message m answered with
// code: the code, its commit counterpart in enhanced mode, or "" when the
// message asked for no acknowledgment of that outcome.
func ackFor(m *hl7v2.Message, code hl7v2.AckCode) string {
	if !m.EnhancedMode() {
		return string(code)
	}
	commit := map[hl7v2.AckCode]string{hl7v2.AA: "CA", hl7v2.AE: "CE", hl7v2.AR: "CR"}[code]
	switch m.AcceptAckType() {
	case "NE":
		return ""
	case "ER":
		if commit == "CA" {
			return ""
		}
	case "SU":
		if commit != "CA" {
			return ""
		}
	}
	return commit
}

// validated parses and validates a sample, returning the message and the
// acknowledgment code its issues call for.
func validated(t *testing.T, file string) (*hl7v2.Message, hl7v2.AckCode) {
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m, err := hl7v2.Parse(raw)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return m, hl7v2.AckCodeFor(hl7v2.Validate(m, hl7v2.ValidateOptions{}))
}
