package terminology

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Scoping a ConceptMap to senders: a useContext whose code is
// SenderContextSystem|SenderContextCode names a sender in its
// valueCodeableConcept (each coding's code, and its text). A map with
// such useContexts applies only to the senders named; a map without
// applies to every sender.
const (
	SenderContextSystem = "urn:concord:usage-context-type"
	SenderContextCode   = "sender"
)

// Coding is a code in a code system, with its display text when known.
type Coding struct {
	System  string
	Code    string
	Display string
}

// equivalenceRank orders the R4 ConceptMap equivalences a mapping accepts,
// best first; unmatched and disjoint are not mappings.
var equivalenceRank = map[string]int{
	"equal":       0,
	"equivalent":  1,
	"wider":       2,
	"subsumes":    3,
	"narrower":    4,
	"specializes": 5,
	"relatedto":   6,
	"inexact":     7,
	"":            8, // equivalence is required in R4; a map that leaves it out still means a mapping
}

// rule is one mapping of a source code (or, for a group's unmapped
// setting, of any code of the source system) to a target.
type rule struct {
	senders []string // nil: every sender
	target  Coding   // Code empty with provided: the source code itself
	// provided: group.unmapped mode provided (same code in the target
	// system).
	provided bool
	rank     int // the equivalence's rank (equivalenceRank)
	mapID    string
}

// applies reports whether the rule is for sender: an exact match, or a
// scope entry naming MSH-3 alone (no "^") that matches the sender's
// MSH-3.
func (r *rule) applies(sender string) bool {
	if r.senders == nil {
		return true
	}
	app, _, _ := strings.Cut(sender, "^")
	for _, s := range r.senders {
		if s == sender || !strings.Contains(s, "^") && s == app {
			return true
		}
	}
	return false
}

// conceptMap is what the mapper reads of a ConceptMap resource.
type conceptMap struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Status       string `json:"status"`
	Meta         struct {
		LastUpdated string `json:"lastUpdated"`
	} `json:"meta"`
	UseContext []struct {
		Code struct {
			System string `json:"system"`
			Code   string `json:"code"`
		} `json:"code"`
		ValueCodeableConcept *struct {
			Coding []struct {
				Code string `json:"code"`
			} `json:"coding"`
			Text string `json:"text"`
		} `json:"valueCodeableConcept"`
	} `json:"useContext"`
	Group []struct {
		Source  string `json:"source"`
		Target  string `json:"target"`
		Element []struct {
			Code   string `json:"code"`
			Target []struct {
				Code        string `json:"code"`
				Display     string `json:"display"`
				Equivalence string `json:"equivalence"`
			} `json:"target"`
		} `json:"element"`
		Unmapped *struct {
			Mode    string `json:"mode"`
			Code    string `json:"code"`
			Display string `json:"display"`
		} `json:"unmapped"`
	} `json:"group"`
}

// parsedMap is a ConceptMap's rules, before the maps are merged.
type parsedMap struct {
	id       string
	updated  time.Time
	senders  []string
	codes    map[[2]string]rule // (source system, code) → the best target
	fallback map[string]rule    // source system → group.unmapped
}

// parseConceptMap reads a ConceptMap's mappings. A retired map, one whose
// sender scope names nobody, and anything that is not a ConceptMap give
// nil. Groups without a source or target system are skipped (the mapper
// cannot place their codes).
func parseConceptMap(content []byte) *parsedMap {
	var cm conceptMap
	if err := json.Unmarshal(content, &cm); err != nil || cm.ResourceType != "ConceptMap" || cm.Status == "retired" {
		return nil
	}
	pm := &parsedMap{id: cm.ID, codes: map[[2]string]rule{}, fallback: map[string]rule{}}
	pm.updated, _ = time.Parse(time.RFC3339Nano, cm.Meta.LastUpdated)
	scoped := false
	for _, uc := range cm.UseContext {
		if uc.Code.System != SenderContextSystem || uc.Code.Code != SenderContextCode {
			continue
		}
		scoped = true
		if v := uc.ValueCodeableConcept; v != nil {
			for _, c := range v.Coding {
				if c.Code != "" {
					pm.senders = append(pm.senders, c.Code)
				}
			}
			if t := strings.TrimSpace(v.Text); t != "" {
				pm.senders = append(pm.senders, t)
			}
		}
	}
	if scoped && len(pm.senders) == 0 {
		return nil
	}
	for _, g := range cm.Group {
		if g.Source == "" || g.Target == "" {
			continue
		}
		for _, el := range g.Element {
			if el.Code == "" {
				continue
			}
			key := [2]string{g.Source, el.Code}
			for _, tg := range el.Target {
				rank, ok := equivalenceRank[tg.Equivalence]
				if !ok || tg.Code == "" {
					continue // unmatched, disjoint, or unknown
				}
				// The best equivalence across the map's groups wins; the
				// first of equals.
				if prev, seen := pm.codes[key]; !seen || rank < prev.rank {
					pm.codes[key] = rule{senders: pm.senders, mapID: cm.ID, rank: rank,
						target: Coding{System: g.Target, Code: tg.Code, Display: tg.Display}}
				}
			}
		}
		if u := g.Unmapped; u != nil {
			switch u.Mode {
			case "provided":
				pm.fallback[g.Source] = rule{senders: pm.senders, mapID: cm.ID, provided: true, target: Coding{System: g.Target}}
			case "fixed":
				if u.Code != "" {
					pm.fallback[g.Source] = rule{senders: pm.senders, mapID: cm.ID,
						target: Coding{System: g.Target, Code: u.Code, Display: u.Display}}
				}
			}
		}
	}
	return pm
}

// snapshot is every ConceptMap's rules merged, as of one store stamp.
// Each key's rules are in the order they are tried: maps scoped to
// senders before unscoped ones, then the most recently updated first,
// then by id.
type snapshot struct {
	codes    map[[2]string][]rule
	fallback map[string][]rule
	maps     int
}

func buildSnapshot(maps []*parsedMap) *snapshot {
	slices.SortFunc(maps, func(a, b *parsedMap) int {
		if (a.senders != nil) != (b.senders != nil) {
			if a.senders != nil {
				return -1
			}
			return 1
		}
		if c := b.updated.Compare(a.updated); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	s := &snapshot{codes: map[[2]string][]rule{}, fallback: map[string][]rule{}, maps: len(maps)}
	for _, m := range maps {
		for k, r := range m.codes {
			s.codes[k] = append(s.codes[k], r)
		}
		for k, r := range m.fallback {
			s.fallback[k] = append(s.fallback[k], r)
		}
	}
	return s
}

// lookup finds the mapping of code in the source system for sender: an
// element of a map first, else a group's unmapped setting.
func (s *snapshot) lookup(sender, source, code string) (Coding, bool) {
	for _, r := range s.codes[[2]string{source, code}] {
		if r.applies(sender) {
			return r.target, true
		}
	}
	for _, r := range s.fallback[source] {
		if r.applies(sender) {
			t := r.target
			if r.provided {
				t.Code = code
			}
			return t, true
		}
	}
	return Coding{}, false
}
