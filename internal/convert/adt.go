package convert

import (
	"context"

	"github.com/concord-health/concord"
)

// The ADT (admit, discharge, transfer) and BAR (billing account) message
// types this file registers. Each walks the message's segments with the
// registered segment converters; what differs by trigger (the visit's
// status, the merge) is read from Context.Trigger by PV1 and MRG.
var adtTypes = []string{
	"ADT^A01", "ADT^A02", "ADT^A03", "ADT^A04", "ADT^A05", "ADT^A06", "ADT^A07", "ADT^A08",
	"ADT^A09", "ADT^A10", "ADT^A11", "ADT^A12", "ADT^A13", "ADT^A17", "ADT^A28", "ADT^A31",
	"ADT^A34", "ADT^A40", "BAR^P01", "BAR^P05",
}

func init() {
	for _, t := range adtTypes {
		RegisterMessage(t, walkPatientMessage)
	}
}

// walkPatientMessage converts a message about a patient by walking its
// segments: it must have a PID.
func walkPatientMessage(ctx context.Context, c *Context) error {
	if err := c.Walk(ctx); err != nil {
		return err
	}
	if c.Patient == nil {
		return concord.Errorf(concord.EINVALID, "PID: the message has no PID segment")
	}
	return nil
}
