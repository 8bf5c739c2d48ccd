package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
)

// readOp reads random created resources by id and checks that each answer
// is 200 and is the resource asked for.
func readOp(c *client, refs []ref, seed uint64) op {
	return func(ctx context.Context, w, i int) error {
		r := rand.New(rand.NewPCG(seed, uint64(w)<<32|uint64(i)))
		x := refs[r.IntN(len(refs))]
		status, body, err := c.get(ctx, "/"+x.typ+"/"+x.id)
		if err != nil {
			return err
		}
		if status != 200 {
			return fmt.Errorf("GET %s/%s: status %d: %.200s", x.typ, x.id, status, body)
		}
		if !bytes.Contains(body, []byte(`"`+x.id+`"`)) {
			return fmt.Errorf("GET %s/%s: the answer does not hold the id: %.200s", x.typ, x.id, body)
		}
		return nil
	}
}

// searchCase is one search whose answer is known in advance.
type searchCase struct {
	path  string // e.g. /Observation?patient=X&code=Y
	total int    // how many resources match
	// check tests one matching resource of the answer.
	check func(res json.RawMessage) error
}

// pageSize is the server's default page size (search.DefaultCount).
const pageSize = 20

// observationCases returns the Observation?patient=X&code=Y searches of
// every loaded Patient and each code of its Observations.
func observationCases(l *loaded) []searchCase {
	var out []searchCase
	for _, copyIDs := range l.ids {
		for bi, ids := range copyIDs {
			b := l.bundles[bi]
			if ids == nil || b.patient < 0 {
				continue
			}
			pid := ids[b.patient].id
			codes := make([]string, 0, len(b.obsCodes))
			for code := range b.obsCodes {
				codes = append(codes, code)
			}
			slices.Sort(codes)
			for _, code := range codes {
				want := "Patient/" + pid
				out = append(out, searchCase{
					path:  "/Observation?patient=" + url.QueryEscape(pid) + "&code=" + url.QueryEscape(code),
					total: b.obsCodes[code],
					check: func(res json.RawMessage) error {
						var o struct {
							ResourceType string `json:"resourceType"`
							Subject      struct {
								Reference string `json:"reference"`
							} `json:"subject"`
						}
						if err := json.Unmarshal(res, &o); err != nil {
							return err
						}
						if o.ResourceType != "Observation" || o.Subject.Reference != want {
							return fmt.Errorf("a %s with subject %q, want an Observation of %s", o.ResourceType, o.Subject.Reference, want)
						}
						return nil
					},
				})
			}
		}
	}
	return out
}

// patientCases returns a Patient?name=PREFIX&birthdate=DATE search for
// each Bundle's Patient (its family name's first four characters and its
// birth date); every copy of a matching Patient is expected.
func patientCases(l *loaded) []searchCase {
	var out []searchCase
	for _, b := range l.bundles {
		if b.patient < 0 || b.family == "" || b.birthDate == "" {
			continue
		}
		prefix := b.namePrefix()
		total := 0
		for bj, o := range l.bundles {
			if o.patient < 0 || o.birthDate != b.birthDate || !o.matchesName(prefix) {
				continue
			}
			for _, copyIDs := range l.ids {
				if copyIDs[bj] != nil {
					total++
				}
			}
		}
		if total == 0 {
			// No copy of this Bundle loaded (its posts failed).
			continue
		}
		birth := b.birthDate
		out = append(out, searchCase{
			path:  "/Patient?name=" + url.QueryEscape(prefix) + "&birthdate=" + url.QueryEscape(birth),
			total: total,
			check: func(res json.RawMessage) error {
				var p struct {
					ResourceType string `json:"resourceType"`
					BirthDate    string `json:"birthDate"`
				}
				if err := json.Unmarshal(res, &p); err != nil {
					return err
				}
				if p.ResourceType != "Patient" || p.BirthDate != birth {
					return fmt.Errorf("a %s born %q, want a Patient born %s", p.ResourceType, p.BirthDate, birth)
				}
				return nil
			},
		})
	}
	return out
}

// searchOp runs random searches from cases and checks each answer: 200, a
// searchset Bundle whose total is the expected count, a first page of
// min(total, pageSize) matches, each passing the case's check.
// Prefer: handling=strict makes the server refuse a parameter it does not
// know instead of ignoring it (which would answer a wider search).
func searchOp(c *client, cases []searchCase, seed uint64) op {
	return func(ctx context.Context, w, i int) error {
		r := rand.New(rand.NewPCG(seed, uint64(w)<<32|uint64(i)))
		sc := cases[r.IntN(len(cases))]
		status, body, err := c.get(ctx, sc.path, "Prefer", "handling=strict")
		if err != nil {
			return err
		}
		if status != 200 {
			return fmt.Errorf("GET %s: status %d: %.200s", sc.path, status, body)
		}
		var doc struct {
			ResourceType string `json:"resourceType"`
			Type         string `json:"type"`
			Total        *int   `json:"total"`
			Entry        []struct {
				Resource json.RawMessage `json:"resource"`
				Search   struct {
					Mode string `json:"mode"`
				} `json:"search"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			return fmt.Errorf("GET %s: %w", sc.path, err)
		}
		if doc.ResourceType != "Bundle" || doc.Type != "searchset" {
			return fmt.Errorf("GET %s: a %s %s, want a searchset Bundle", sc.path, doc.ResourceType, doc.Type)
		}
		if doc.Total == nil || *doc.Total != sc.total {
			got := "none"
			if doc.Total != nil {
				got = fmt.Sprint(*doc.Total)
			}
			return fmt.Errorf("GET %s: total %s, want %d", sc.path, got, sc.total)
		}
		matches := 0
		for _, e := range doc.Entry {
			if e.Search.Mode != "match" {
				continue
			}
			matches++
			if err := sc.check(e.Resource); err != nil {
				return fmt.Errorf("GET %s: %v", sc.path, err)
			}
		}
		if want := min(sc.total, pageSize); matches != want {
			return fmt.Errorf("GET %s: %d matches on the first page, want %d", sc.path, matches, want)
		}
		return nil
	}
}
