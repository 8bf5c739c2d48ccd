package fhirapi

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/concord-health/concord"
)

// maxGroupDepth caps how deep GroupMembers follows Groups that are
// members of Groups.
const maxGroupDepth = 8

// GroupMembers returns the ids of the Patients that are members of the
// Group groupID (a cohort, as Bulk Data's Group/[id]/$export uses), in
// the order the Group lists them, each once. A member counts when
// member.entity is a local reference (Patient/123, also with
// /_history/n), member.inactive is not true, and member.period, when
// given, holds now (a member whose period ended, or has not started, is
// left out). A member that is itself a Group adds that Group's members
// (to a depth of 8, each Group once). References to other servers
// (absolute URLs) and members of other types are skipped and returned
// as written in skipped (for the caller's report); the Patients are not
// read, so an id may name a Patient since deleted.
//
// GroupMembers does no authorisation: the caller decides who may list
// the Group. Errors: ENOTFOUND when there is no such Group, EGONE when it
// was deleted, EUNSUPPORTED for a definitional Group (actual false: its
// members are defined by characteristics, not listed).
func GroupMembers(ctx context.Context, store concord.Store, groupID string) (patients, skipped []string, err error) {
	g := groupWalk{store: store, now: time.Now(), seen: map[string]bool{}, have: map[string]bool{}}
	if err := g.walk(ctx, groupID, 0); err != nil {
		return nil, nil, err
	}
	return g.out, g.skipped, nil
}

// groupWalk collects the members of Groups.
type groupWalk struct {
	store concord.Store
	now   time.Time
	seen  map[string]bool // Groups walked
	have  map[string]bool // Patients found
	out   []string
	// skipped are the member references that name neither a Patient nor
	// a Group of this server.
	skipped []string
}

// groupDoc is what GroupMembers reads of a Group.
type groupDoc struct {
	Actual *bool `json:"actual"`
	Member []struct {
		Entity struct {
			Reference string `json:"reference"`
		} `json:"entity"`
		Inactive bool `json:"inactive"`
		Period   *struct {
			Start string `json:"start"`
			End   string `json:"end"`
		} `json:"period"`
	} `json:"member"`
}

func (g *groupWalk) walk(ctx context.Context, id string, depth int) error {
	if g.seen[id] || depth > maxGroupDepth {
		return nil
	}
	g.seen[id] = true
	res, err := g.store.Resource(ctx, "Group", id)
	if err != nil {
		return err
	}
	if res.Deleted {
		return concord.Errorf(concord.EGONE, "Group/%s was deleted", id)
	}
	var doc groupDoc
	if err := json.Unmarshal(res.Content, &doc); err != nil {
		return concord.WrapError(concord.EINTERNAL, err, "Group/%s is not JSON", id)
	}
	if doc.Actual != nil && !*doc.Actual {
		return concord.Errorf(concord.EUNSUPPORTED, "Group/%s is definitional (actual false): its members are not listed", id)
	}
	for _, m := range doc.Member {
		if m.Inactive || (m.Period != nil && !g.current(m.Period.Start, m.Period.End)) {
			continue
		}
		typ, mid, ok := localReference(m.Entity.Reference)
		switch {
		case !ok || (typ != "Patient" && typ != "Group"):
			if m.Entity.Reference != "" {
				g.skipped = append(g.skipped, m.Entity.Reference)
			}
		case typ == "Patient":
			if !g.have[mid] {
				g.have[mid] = true
				g.out = append(g.out, mid)
			}
		case typ == "Group":
			err := g.walk(ctx, mid, depth+1)
			if concord.ErrorCode(err) == concord.ENOTFOUND || concord.ErrorCode(err) == concord.EGONE {
				continue // a member Group that is no more adds no one
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// current reports whether now lies in the period [start, end] (either
// may be absent; each is taken at its precision: an end of 2020 means
// the end of 2020). A value that is not a date leaves that side open.
func (g *groupWalk) current(start, end string) bool {
	if start != "" {
		if lo, _, err := datePeriod(start); err == nil && g.now.Before(lo) {
			return false
		}
	}
	if end != "" {
		if _, hi, err := datePeriod(end); err == nil && !g.now.Before(hi) {
			return false
		}
	}
	return true
}

// localReference splits a relative reference Type/id (or
// Type/id/_history/v) into its type and id.
func localReference(ref string) (typ, id string, ok bool) {
	parts := strings.Split(ref, "/")
	if len(parts) != 2 && !(len(parts) == 4 && parts[2] == "_history") {
		return "", "", false
	}
	if !concord.IsFHIRID(parts[1]) || parts[0] == "" {
		return "", "", false
	}
	return parts[0], parts[1], true
}
