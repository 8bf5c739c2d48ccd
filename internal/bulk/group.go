package bulk

import (
	"context"
	"strings"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhirpath"
)

// maxGroupMembers caps the patients of a Group export: their ids go into
// every scan query as parameters.
const maxGroupMembers = 10000

// groupMembers returns the ids of the Patients a Group's active members
// name (member.entity references Patient/id; members with inactive true
// are left out), and the references it skipped (members that are not
// Patients). ENOTFOUND when there is no such Group, EGONE when it was
// deleted.
//
// The everything branch brings a shared GroupMembers; this one is to be
// replaced by it when the two are merged.
func groupMembers(ctx context.Context, store concord.Store, id string) ([]string, []string, error) {
	res, err := store.Resource(ctx, "Group", id)
	if err != nil {
		return nil, nil, err
	}
	if res.Deleted {
		return nil, nil, concord.Errorf(concord.EGONE, "Group/%s was deleted", id)
	}
	doc, err := fhirpath.ParseJSON(res.Content)
	if err != nil {
		return nil, nil, concord.WrapError(concord.EINTERNAL, err, "Group/%s as stored is not JSON", id)
	}
	var ids, skipped []string
	seen := map[string]bool{}
	members, ok := doc.Root().Get("member")
	if !ok || members.Kind() != fhirpath.JSONArray {
		return nil, nil, nil
	}
	members.Each(func(_ string, m fhirpath.JSONRef) bool {
		if m.Kind() != fhirpath.JSONObject {
			return true
		}
		if in, ok := m.Get("inactive"); ok && in.Kind() == fhirpath.JSONTrue {
			return true
		}
		ent, ok := m.Get("entity")
		if !ok || ent.Kind() != fhirpath.JSONObject {
			return true
		}
		ref, ok := ent.Get("reference")
		if !ok || ref.Kind() != fhirpath.JSONString {
			return true
		}
		pid, ok := patientID(ref.String())
		if !ok {
			skipped = append(skipped, ref.String())
			return true
		}
		if !seen[pid] {
			seen[pid] = true
			ids = append(ids, pid)
		}
		return true
	})
	if len(ids) > maxGroupMembers {
		return nil, nil, concord.Errorf(concord.ETOOLARGE, "Group/%s has %d patient members; an export takes at most %d", id, len(ids), maxGroupMembers)
	}
	return ids, skipped, nil
}

// patientID returns the id of a reference to a Patient: Patient/id, or
// an absolute URL ending in Patient/id (with or without _history).
func patientID(ref string) (string, bool) {
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	i := strings.LastIndex(ref, "Patient/")
	if i < 0 || (i > 0 && ref[i-1] != '/') {
		return "", false
	}
	id := ref[i+len("Patient/"):]
	return id, concord.IsFHIRID(id)
}
