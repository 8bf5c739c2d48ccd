package storetest

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhirpath"
	"github.com/concord-health/concord/internal/search"
)

// testIndexInOneTransaction: in one transaction, resources are created,
// one of them updated twice and searched in between; the search sees the
// transaction's own index rows, and after the commit each resource is
// found by its last version's values only (a store that holds index rows
// back and sends them together must keep them in order with the
// removal of a resource's old rows).
func testIndexInOneTransaction(t *testing.T, f *Fixture) {
	ctx := context.Background()
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	version := func(id, family string, v int64) *concord.Resource {
		js := fmt.Sprintf(`{"resourceType":"Patient","id":%q,"name":[{"family":%q}]}`, id, family)
		doc, err := fhirpath.ParseJSON([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		idx, err := search.Index(ctx, doc)
		if err != nil {
			t.Fatal(err)
		}
		return &concord.Resource{Type: "Patient", ID: id, Version: v, LastUpdated: at, Content: []byte(js), Index: idx}
	}
	query := func(family string) *concord.SearchQuery {
		req, err := search.Parse("Patient", url.Values{"family:exact": {family}}, search.Options{Strict: true, Now: at})
		if err != nil {
			t.Fatal(err)
		}
		return &req.Query
	}
	err := f.Store.Update(ctx, func(tx concord.Tx) error {
		for _, r := range []*concord.Resource{version("ix-a", "Alpha", 1), version("ix-b", "Beta", 1), version("ix-a", "Gamma", 2)} {
			if err := tx.PutResource(ctx, r); err != nil {
				return err
			}
		}
		ids, err := tx.SearchIDs(ctx, query("Gamma"), 10)
		if err != nil {
			return err
		}
		if fmt.Sprint(ids) != "[ix-a]" {
			return fmt.Errorf("within the transaction, family Gamma finds %v", ids)
		}
		for _, r := range []*concord.Resource{version("ix-c", "Gamma", 1), version("ix-a", "Delta", 3)} {
			if err := tx.PutResource(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for family, want := range map[string]string{"Alpha": "[]", "Beta": "[ix-b]", "Gamma": "[ix-c]", "Delta": "[ix-a]"} {
		page, _, err := f.Store.Search(ctx, query(family))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range page {
			ids = append(ids, r.ID)
		}
		if got := fmt.Sprint(ids); got != want && !(want == "[]" && len(ids) == 0) {
			t.Errorf("family %s finds %s, want %s", family, got, want)
		}
	}
}
