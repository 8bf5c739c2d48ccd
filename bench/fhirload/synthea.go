package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// bundle is one Synthea transaction Bundle as read from disk: its bytes,
// posted unchanged, and what the benchmark needs to know about its entries
// to build searches whose answers it can predict.
type bundle struct {
	name    string
	body    []byte
	entries int
	// patient is the index of the Bundle's Patient entry (-1 if none).
	patient int
	// family and birthDate are the Patient's first family name and
	// birth date; nameParts holds every part of every name, lower case.
	family, birthDate string
	nameParts         []string
	// obsCodes counts, per code of Observation.code, the Bundle's
	// Observations of its Patient that carry that code.
	obsCodes map[string]int
}

// syntheaEntry is the part of a Bundle entry the benchmark reads.
type syntheaEntry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
	Request  struct {
		Method      string `json:"method"`
		IfNoneExist string `json:"ifNoneExist"`
	} `json:"request"`
}

// syntheaPatient is the part of a Patient the benchmark reads.
type syntheaPatient struct {
	BirthDate string `json:"birthDate"`
	Name      []struct {
		Family string   `json:"family"`
		Given  []string `json:"given"`
		Prefix []string `json:"prefix"`
		Suffix []string `json:"suffix"`
		Text   string   `json:"text"`
	} `json:"name"`
}

// syntheaObservation is the part of an Observation the benchmark reads.
type syntheaObservation struct {
	Subject struct {
		Reference string `json:"reference"`
	} `json:"subject"`
	Code struct {
		Coding []struct {
			Code string `json:"code"`
		} `json:"coding"`
	} `json:"code"`
}

// loadBundles reads every *.json transaction Bundle in dir, largest first
// (so that with several posters the last Bundles of a copy are small ones).
func loadBundles(dir string) ([]*bundle, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.json files in %s", dir)
	}
	var out []*bundle
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var doc struct {
			ResourceType string         `json:"resourceType"`
			Type         string         `json:"type"`
			Entry        []syntheaEntry `json:"entry"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if doc.ResourceType != "Bundle" || doc.Type != "transaction" {
			return nil, fmt.Errorf("%s: not a transaction Bundle", f)
		}
		b := &bundle{name: filepath.Base(f), body: body, entries: len(doc.Entry), patient: -1, obsCodes: map[string]int{}}
		var observations []syntheaObservation
		for i, e := range doc.Entry {
			if e.Request.Method != "POST" || e.Request.IfNoneExist != "" {
				// Every entry is expected to create a resource on each
				// post; a conditional one would not after the first copy.
				return nil, fmt.Errorf("%s: entry %d is not a plain POST (method %q, ifNoneExist %q)",
					f, i, e.Request.Method, e.Request.IfNoneExist)
			}
			var head struct {
				ResourceType string `json:"resourceType"`
			}
			if err := json.Unmarshal(e.Resource, &head); err != nil {
				return nil, fmt.Errorf("%s: entry %d: %w", f, i, err)
			}
			switch head.ResourceType {
			case "Patient":
				if b.patient >= 0 {
					return nil, fmt.Errorf("%s: more than one Patient", f)
				}
				var p syntheaPatient
				if err := json.Unmarshal(e.Resource, &p); err != nil {
					return nil, fmt.Errorf("%s: entry %d: %w", f, i, err)
				}
				b.patient = i
				b.birthDate = p.BirthDate
				for _, n := range p.Name {
					if b.family == "" {
						b.family = n.Family
					}
					parts := append([]string{n.Family, n.Text}, n.Given...)
					parts = append(parts, n.Prefix...)
					parts = append(parts, n.Suffix...)
					for _, part := range parts {
						if part != "" {
							b.nameParts = append(b.nameParts, strings.ToLower(part))
						}
					}
				}
			case "Observation":
				var o syntheaObservation
				if err := json.Unmarshal(e.Resource, &o); err != nil {
					return nil, fmt.Errorf("%s: entry %d: %w", f, i, err)
				}
				observations = append(observations, o)
			}
		}
		if b.patient >= 0 {
			pat := doc.Entry[b.patient].FullURL
			for _, o := range observations {
				if o.Subject.Reference != pat {
					continue
				}
				seen := map[string]bool{}
				for _, c := range o.Code.Coding {
					if c.Code != "" && !seen[c.Code] {
						seen[c.Code] = true
						b.obsCodes[c.Code]++
					}
				}
			}
		}
		out = append(out, b)
	}
	slices.SortStableFunc(out, func(a, b *bundle) int { return len(b.body) - len(a.body) })
	return out, nil
}

// namePrefix is the prefix of the family name used in Patient?name=
// searches: its first four characters.
func (b *bundle) namePrefix() string {
	r := []rune(b.family)
	return string(r[:min(4, len(r))])
}

// matchesName reports whether some part of the Bundle's Patient's names
// starts with prefix, ignoring case (the server also folds accents; the
// prefixes used are those of the Patients themselves).
func (b *bundle) matchesName(prefix string) bool {
	p := strings.ToLower(prefix)
	for _, n := range b.nameParts {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}
