package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ref is a resource the server created: its type and server-assigned id.
type ref struct{ typ, id string }

// loaded is what an import left on the server: per copy and Bundle, the
// resources created (in entry order, nil if the post failed).
type loaded struct {
	bundles []*bundle
	ids     [][][]ref // [copy][bundle][entry]
}

// all returns every created resource.
func (l *loaded) all() []ref {
	var out []ref
	for _, c := range l.ids {
		for _, b := range c {
			out = append(out, b...)
		}
	}
	return out
}

// importStats is the outcome of importing some copies with one number of
// posters.
type importStats struct {
	posters   int
	copies    int
	bundles   int
	created   int
	failed    int // Bundles refused or answered with an entry not 201
	elapsed   time.Duration
	lat       latencies // per Bundle
	srvCores  float64
	loadCores float64
}

// importer posts transaction Bundles.
type importer struct {
	c       *client
	bundles []*bundle
}

// postCopy posts every Bundle once with posters concurrent posters and
// returns the resources created per Bundle and the Bundles' latencies.
func (im *importer) postCopy(ctx context.Context, posters int) ([][]ref, latencies, []error) {
	out := make([][]ref, len(im.bundles))
	errs := make([]error, len(im.bundles))
	lat := make([]time.Duration, len(im.bundles))
	next := make(chan int)
	var wg sync.WaitGroup
	for range posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t0 := time.Now()
				refs, err := im.post(ctx, im.bundles[i])
				lat[i] = time.Since(t0)
				out[i], errs[i] = refs, err
			}
		}()
	}
	for i := range im.bundles {
		next <- i
	}
	close(next)
	wg.Wait()
	return out, lat, errs
}

// post posts one Bundle as a transaction and returns the resources it
// created, in entry order.
func (im *importer) post(ctx context.Context, b *bundle) ([]ref, error) {
	req, err := im.c.request(ctx, http.MethodPost, "", bytes.NewReader(b.body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Prefer", "return=minimal")
	resp, err := im.c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: status %d: %.300s", b.name, resp.StatusCode, body)
	}
	var doc struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Response struct {
				Status   string `json:"status"`
				Location string `json:"location"`
			} `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("%s: response: %w", b.name, err)
	}
	if doc.ResourceType != "Bundle" || doc.Type != "transaction-response" || len(doc.Entry) != b.entries {
		return nil, fmt.Errorf("%s: response is a %s %s with %d entries, want a transaction-response with %d",
			b.name, doc.ResourceType, doc.Type, len(doc.Entry), b.entries)
	}
	refs := make([]ref, len(doc.Entry))
	for i, e := range doc.Entry {
		if !strings.HasPrefix(e.Response.Status, "201") {
			return nil, fmt.Errorf("%s: entry %d: status %q, want 201", b.name, i, e.Response.Status)
		}
		// location is Type/id/_history/version.
		parts := strings.Split(e.Response.Location, "/")
		if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("%s: entry %d: location %q", b.name, i, e.Response.Location)
		}
		refs[i] = ref{parts[0], parts[1]}
	}
	return refs, nil
}

// runImport posts copies of every Bundle; copy i uses posters[i %
// len(posters)] concurrent posters, so that each poster count meets the
// database at every size. It returns the stats per poster count (in the
// order of posters) and what was loaded.
func runImport(ctx context.Context, im *importer, copies int, posters []int, logf func(string, ...any)) ([]*importStats, *loaded, error) {
	stats := make([]*importStats, len(posters))
	for i, p := range posters {
		stats[i] = &importStats{posters: p}
	}
	l := &loaded{bundles: im.bundles}
	for c := range copies {
		k := c % len(posters)
		st := stats[k]
		cpu := startCPU(im.c.pid)
		t0 := time.Now()
		refs, lat, errs := im.postCopy(ctx, posters[k])
		d := time.Since(t0)
		srv, load := cpu.cores()
		created, failed := 0, 0
		var firstErr error
		for i, r := range refs {
			if errs[i] != nil {
				failed++
				if firstErr == nil {
					firstErr = errs[i]
				}
				continue
			}
			created += len(r)
		}
		// Average the CPU shares over the copies, weighted by time.
		w := st.elapsed.Seconds()
		st.srvCores = (st.srvCores*w + srv*d.Seconds()) / (w + d.Seconds())
		st.loadCores = (st.loadCores*w + load*d.Seconds()) / (w + d.Seconds())
		st.copies++
		st.bundles += len(refs)
		st.created += created
		st.failed += failed
		st.elapsed += d
		st.lat = append(st.lat, lat...)
		l.ids = append(l.ids, refs)
		logf("import copy %d/%d: %d posters, %d resources in %.2fs = %.0f/s (server %.2f cores, load %.2f)",
			c+1, copies, posters[k], created, d.Seconds(), float64(created)/d.Seconds(), srv, load)
		if firstErr != nil {
			logf("import copy %d: %d Bundles failed; first: %v", c+1, failed, firstErr)
		}
		if ctx.Err() != nil {
			return stats, l, ctx.Err()
		}
	}
	return stats, l, nil
}
