package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestBulkExportServe runs a system $export through concord serve (the
// exporter wired with its worker and the export_expiry setting), then
// stops and restarts the server and reads the finished job's file again:
// jobs and files live in the store.
func TestBulkExportServe(t *testing.T) {
	f := startFHIR(t)
	f.stop(t)
	f.node = startServe(t, f.dir, "--data", f.data, "--export-expiry", "2h")
	tok := f.token("--role", "integration")
	base := f.url + "/fhir"
	for _, p := range []string{`{"resourceType":"Patient","id":"x1","gender":"female"}`, `{"resourceType":"Patient","id":"x2"}`,
		`{"resourceType":"Observation","id":"y1","status":"final","code":{"text":"synthetic"},"subject":{"reference":"Patient/x1"}}`} {
		var r struct{ ResourceType, ID string }
		json.Unmarshal([]byte(p), &r)
		if resp, body := fhirDo(t, "PUT", base+"/"+r.ResourceType+"/"+r.ID, tok, p); resp.StatusCode != 201 {
			t.Fatalf("PUT: %d %s", resp.StatusCode, body)
		}
	}
	resp, body := fhirDo(t, "GET", base+"/$export?_type=Patient,Observation", tok, "", "Prefer", "respond-async")
	if resp.StatusCode != 202 {
		t.Fatalf("kick-off: %d %s", resp.StatusCode, body)
	}
	status := resp.Header.Get("Content-Location")
	var m struct {
		Output []struct {
			Type, URL string
			Count     int
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, body = fhirDo(t, "GET", status, tok, "")
		if resp.StatusCode == 200 {
			if err := json.Unmarshal([]byte(body), &m); err != nil {
				t.Fatal(err)
			}
			if exp, err := http.ParseTime(resp.Header.Get("Expires")); err != nil || exp.Before(time.Now().Add(110*time.Minute)) {
				t.Fatalf("Expires %q with export_expiry 2h", resp.Header.Get("Expires"))
			}
			break
		}
		if resp.StatusCode != 202 || time.Now().After(deadline) {
			t.Fatalf("status: %d %s", resp.StatusCode, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	counts := map[string]int{}
	for _, o := range m.Output {
		counts[o.Type] += o.Count
	}
	if counts["Patient"] != 2 || counts["Observation"] != 1 || len(counts) != 2 {
		t.Fatalf("manifest: %s", body)
	}
	f.stop(t)
	f.node = startServe(t, f.dir, "--data", f.data)
	for _, o := range m.Output {
		url := strings.Replace(o.URL, status[:strings.Index(status, "/fhir/")], f.url, 1) // the new port
		resp, body := fhirDo(t, "GET", url, tok, "")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/fhir+ndjson" {
			t.Fatalf("GET %s after a restart: %d %s", url, resp.StatusCode, body)
		}
		sc := bufio.NewScanner(strings.NewReader(body))
		n := 0
		for sc.Scan() {
			var r struct{ ResourceType string }
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.ResourceType != o.Type {
				t.Fatalf("%s line %d: %q", url, n+1, sc.Text())
			}
			n++
		}
		if n != o.Count {
			t.Fatalf("%s: %d lines, manifest %d", url, n, o.Count)
		}
	}
}
