package adminapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/httperr"
)

// CodeMaps is what the terminology report needs of the code mapper
// (terminology.Mapper).
type CodeMaps interface {
	// Reconcile marks the report's entries of sender (all when empty)
	// mapped, or needing a mapping again, as the maps stand now.
	Reconcile(ctx context.Context, sender string) error
	// SystemURI returns the code system URI of a coding system as a
	// sender names it: what a ConceptMap group's source must be.
	SystemURI(sender, system string) string
}

// RegisterTerminology adds the terminology routes: GET
// /api/terminology/unmapped, the "needs mapping" report.
func RegisterTerminology(r Router, store concord.Store, maps CodeMaps) {
	t := &terminologyAPI{store: store, maps: maps}
	r.Handle("GET /api/terminology/unmapped", concord.Access{
		Action: concord.Action{Permission: concord.PermTerminologyRead}, Audit: concord.AuditSearch, Object: "api/terminology/unmapped",
	}, http.HandlerFunc(t.unmapped))
}

type terminologyAPI struct {
	store concord.Store
	maps  CodeMaps
}

// UnmappedEntry is one element of GET /api/terminology/unmapped: a code
// that needs a mapping, with the URI of its code system (the source of a
// ConceptMap group that would map it).
type UnmappedEntry struct {
	*concord.UnmappedCode
	SystemURI string `json:"system_uri"`
}

// unmapped answers the "needs mapping" report: a JSON array, most
// frequent first, paged with limit (default 100, at most 1000) and offset;
// X-Total-Count says how many entries match in all. sender filters by
// MSH-3^MSH-4 or MSH-3; mapped=true includes entries mapped since.
func (t *terminologyAPI) unmapped(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := concord.UnmappedFilter{Sender: q.Get("sender")}
	var err error
	if f.Mapped, err = boolParam(q.Get("mapped")); err != nil {
		httperr.Write(w, r, concord.Errorf(concord.EINVALID, "mapped: %v", err))
		return
	}
	if f.Limit, err = intParam(q.Get("limit"), 100, 1000); err != nil {
		httperr.Write(w, r, concord.Errorf(concord.EINVALID, "limit: %v", err))
		return
	}
	if f.Offset, err = intParam(q.Get("offset"), 0, 1<<30); err != nil {
		httperr.Write(w, r, concord.Errorf(concord.EINVALID, "offset: %v", err))
		return
	}
	if t.maps != nil {
		if err := t.maps.Reconcile(r.Context(), f.Sender); err != nil {
			storeFailed(w, r, err)
			return
		}
	}
	codes, total, err := t.store.UnmappedCodes(r.Context(), f)
	if err != nil {
		storeFailed(w, r, err)
		return
	}
	out := make([]UnmappedEntry, len(codes))
	for i, c := range codes {
		out[i] = UnmappedEntry{UnmappedCode: c, SystemURI: c.System}
		if t.maps != nil {
			out[i].SystemURI = t.maps.SystemURI(c.Sender, c.System)
		}
	}
	w.Header().Set("X-Total-Count", strconv.FormatInt(total, 10))
	writeJSON(w, http.StatusOK, out)
}

// boolParam reads true or false (empty is false).
func boolParam(s string) (bool, error) {
	switch s {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, concord.Errorf(concord.EINVALID, "want true or false")
}
