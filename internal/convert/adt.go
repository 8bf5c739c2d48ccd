package convert

import "context"

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
		RegisterMessage(t, walkMessage)
	}
}

// walkMessage converts a message by walking its segments.
func walkMessage(ctx context.Context, c *Context) error { return c.Walk(ctx) }
