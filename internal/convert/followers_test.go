package convert

import (
	"context"
	"strings"
	"testing"

	"github.com/concord-health/concord/hl7v2"
)

// swapSegments replaces global segment converters for one test and
// puts the previous ones back after it.
func swapSegments(t *testing.T, with map[string]SegmentFunc) {
	t.Helper()
	regMu.Lock()
	prev := map[string]SegmentFunc{}
	for id, f := range with {
		prev[id] = segments[id]
		segments[id] = f
	}
	regMu.Unlock()
	t.Cleanup(func() {
		regMu.Lock()
		defer regMu.Unlock()
		for id, f := range prev {
			if f == nil {
				delete(segments, id)
			} else {
				segments[id] = f
			}
		}
	})
}

// TestDelegatesUnclaimedSegments checks that the order-family segments
// these message types do not claim reach the global converters (the
// orders-and-results ones): a patient OBX and its NTE in VXU, an OBX and
// its NTE after RXE in RDE; and that the claimed ones do not (the OBX
// after RXA in VXU, the NTE after RXE).
func TestDelegatesUnclaimedSegments(t *testing.T) {
	var seen []string
	record := func(ctx context.Context, c *Context, seg hl7v2.Segment) error {
		seen = append(seen, seg.Name()+":"+Text(seg.Field(3)))
		return nil
	}
	swapSegments(t, map[string]SegmentFunc{"OBX": record, "NTE": record})

	vxu := strings.Replace(goldenMessage(t, "vxu_v04"), "ORC|RE||IZ-5001", "OBX|1|NM|29463-7^Body weight^LN||12|kg^kg^UCUM||||||F\rNTE|1||weighed\rORC|RE||IZ-5001", 1)
	seen = nil
	convertString(t, vxu, Options{})
	if strings.Join(seen, ",") != "OBX:29463-7^Body weight^LN,NTE:weighed" {
		t.Errorf("VXU delegated %q", seen)
	}

	rde := goldenMessage(t, "rde_o11")
	rde = strings.Replace(rde, "NTE|1||Synthetic note: check for rash.", "NTE|1||Synthetic note: check for rash.\rOBX|1|NM|3141-9^Body weight^LN||70|kg^kg^UCUM||||||F\rNTE|1||after the OBX", 1)
	seen = nil
	res := convertString(t, rde, Options{})
	if strings.Join(seen, ",") != "OBX:3141-9^Body weight^LN,NTE:after the OBX" {
		t.Errorf("RDE delegated %q", seen)
	}
	mr := bundleResources(t, res.Bundle, "MedicationRequest")[0]
	if notes := mr["note"].([]any); len(notes) != 2 {
		t.Errorf("the MedicationRequest's notes %v", notes)
	}
}
