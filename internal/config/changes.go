package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Changes is a channel source that follows the clinical store's change
// log: each new version of a resource of the listed types that passes
// Filter is converted to HL7 v2 for each destination (see HL7) and queued
// there.
type Changes struct {
	// Types are the resource types followed: ServiceRequest (orders),
	// DiagnosticReport (results) and Patient (demographics, merges).
	Types []string
	// Filter is a CEL expression over the resource (see
	// engine.CompileChangeFilter); empty keeps every version.
	Filter string
	// From says where a channel seen for the first time starts: "now"
	// (the default: changes stored from then on) or "beginning" (the
	// whole change log).
	From string
	// Poll is how often an idle reader looks for changes written on
	// other nodes or by concord import (default 500ms); writes through
	// this node's FHIR API are read at once.
	Poll time.Duration
}

// ChangeTypes are the resource types a changes source can follow.
var ChangeTypes = []string{"ServiceRequest", "DiagnosticReport", "Patient"}

// HL7 says how a changes channel writes the messages for one destination.
type HL7 struct {
	// Type is the order message for ServiceRequests: ORM^O01, OML^O21 or
	// OMI^O23; empty chooses OMI^O23 for imaging and OML^O21 otherwise.
	// Results are always ORU^R01, Patients ADT^A08 or ADT^A40.
	Type string
	// Version is MSH-12 (default 2.5.1).
	Version string
	// SendingApplication, SendingFacility, ReceivingApplication and
	// ReceivingFacility are MSH-3 to MSH-6.
	SendingApplication, SendingFacility     string
	ReceivingApplication, ReceivingFacility string
	// ProcessingID is MSH-11: P (default), T or D.
	ProcessingID string
	// Namespace is the assigning authority of identifiers made from
	// resource ids (default CONCORD).
	Namespace string
	// Authorities maps identifier systems to the assigning authority
	// namespaces the receiver knows them by.
	Authorities map[string]string
	// Partner is how the destination's system names itself when it sends
	// to Concord (MSH-3^MSH-4, or MSH-3): a change that came from one of
	// its messages (a Provenance written with the change names it as the
	// author) is not sent back to it.
	Partner string
}

// hl7Versions are the versions the outbound converter writes.
var hl7Versions = []string{"2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2"}

// loadChanges reads a channel's changes key.
func loadChanges(path string, v *yaml.Node) (*Changes, error) {
	c := &Changes{From: "now", Poll: 500 * time.Millisecond}
	err := eachKey(path, v, map[string]func(*yaml.Node) error{
		"types": func(v *yaml.Node) error {
			return list(v, func(s string) error {
				if !slices.Contains(ChangeTypes, s) {
					return fmt.Errorf("%q: want %s", s, strings.Join(ChangeTypes, ", "))
				}
				if slices.Contains(c.Types, s) {
					return fmt.Errorf("%q listed twice", s)
				}
				c.Types = append(c.Types, s)
				return nil
			})
		},
		"filter": func(v *yaml.Node) error { return scalar(v, &c.Filter) },
		"poll":   duration(&c.Poll),
		"from": func(v *yaml.Node) error {
			if err := scalar(v, &c.From); err != nil {
				return err
			}
			if c.From != "now" && c.From != "beginning" {
				return fmt.Errorf("want now or beginning, got %q", c.From)
			}
			return nil
		},
	})
	if err == nil && len(c.Types) == 0 {
		err = fmt.Errorf("config %s:%d: changes needs types: one or more of %s", path, v.Line, strings.Join(ChangeTypes, ", "))
	}
	return c, err
}

// loadHL7 reads a destination's hl7 key.
func loadHL7(path string, v *yaml.Node) (*HL7, error) {
	h := &HL7{}
	namespace := func(dst *string) func(*yaml.Node) error {
		return func(v *yaml.Node) error {
			if err := scalar(v, dst); err != nil {
				return err
			}
			if strings.ContainsAny(*dst, "|^~\\&\r\n") || len(*dst) > 227 {
				return fmt.Errorf("want a namespace ID without HL7 delimiters, got %q", *dst)
			}
			return nil
		}
	}
	err := eachKey(path, v, map[string]func(*yaml.Node) error{
		"type": func(v *yaml.Node) error {
			if err := scalar(v, &h.Type); err != nil {
				return err
			}
			if h.Type != "ORM^O01" && h.Type != "OML^O21" && h.Type != "OMI^O23" {
				return fmt.Errorf("want ORM^O01, OML^O21 or OMI^O23 (the order message; results are ORU^R01, patients ADT^A08/A40), got %q", h.Type)
			}
			return nil
		},
		"version": func(v *yaml.Node) error {
			if err := scalar(v, &h.Version); err != nil {
				return err
			}
			if !slices.Contains(hl7Versions, h.Version) {
				return fmt.Errorf("want one of %s, got %q", strings.Join(hl7Versions, ", "), h.Version)
			}
			return nil
		},
		"sending_application":   namespace(&h.SendingApplication),
		"sending_facility":      namespace(&h.SendingFacility),
		"receiving_application": namespace(&h.ReceivingApplication),
		"receiving_facility":    namespace(&h.ReceivingFacility),
		"namespace":             namespace(&h.Namespace),
		"partner": func(v *yaml.Node) error {
			if err := scalar(v, &h.Partner); err != nil {
				return err
			}
			if h.Partner == "" || strings.ContainsAny(h.Partner, "|~\\&\r\n") {
				return fmt.Errorf("want the partner's MSH-3^MSH-4 or MSH-3, got %q", h.Partner)
			}
			return nil
		},
		"processing_id": func(v *yaml.Node) error {
			if err := scalar(v, &h.ProcessingID); err != nil {
				return err
			}
			if h.ProcessingID != "P" && h.ProcessingID != "T" && h.ProcessingID != "D" {
				return fmt.Errorf("want P, T or D, got %q", h.ProcessingID)
			}
			return nil
		},
		"authorities": func(v *yaml.Node) error {
			if v.Kind != yaml.MappingNode {
				return fmt.Errorf("must be a mapping of identifier system to namespace")
			}
			h.Authorities = map[string]string{}
			for i := 0; i+1 < len(v.Content); i += 2 {
				var ns string
				if err := namespace(&ns)(v.Content[i+1]); err != nil {
					return fmt.Errorf("%s: %v", v.Content[i].Value, err)
				}
				h.Authorities[v.Content[i].Value] = ns
			}
			return nil
		},
	})
	if err != nil {
		return h, err
	}
	// The combinations the converter refuses, caught at load time.
	if h.Version != "" {
		old := strings.HasPrefix(h.Version, "2.3") || strings.HasPrefix(h.Version, "2.4")
		switch {
		case old && (h.Type == "OML^O21" || h.Type == "OMI^O23"):
			return h, fmt.Errorf("config %s:%d: hl7: %s needs version 2.5 or later, not %s", path, v.Line, h.Type, h.Version)
		case old && h.Type == "":
			return h, fmt.Errorf("config %s:%d: hl7: version %s has no OML or OMI: set type: ORM^O01", path, v.Line, h.Version)
		case h.Type == "ORM^O01" && (strings.HasPrefix(h.Version, "2.7") || strings.HasPrefix(h.Version, "2.8")):
			return h, fmt.Errorf("config %s:%d: hl7: ORM^O01 was withdrawn in version 2.7: use OML^O21 or OMI^O23, or version 2.6 or earlier", path, v.Line)
		}
	}
	return h, nil
}
