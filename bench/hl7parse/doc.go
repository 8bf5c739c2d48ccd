// Package hl7parse compares Concord's HL7 v2 parser with
// github.com/lenaten/hl7 on the shared samples. It is a module of its own
// so that the peer never enters Concord's dependencies. Run it with
// bench/hl7-parse.sh, which also runs the @medplum/hl7 peer.
package hl7parse
