package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhirpath"
	"github.com/concord-health/concord/internal/config"
	"github.com/concord-health/concord/internal/fhirapi"
	"github.com/concord-health/concord/internal/subscription"
)

// maxImportFile caps a Bundle or single resource file (the JSON index's
// own limit); NDJSON files are read line by line and have no cap.
const maxImportFile = fhirpath.MaxDocumentSize

// maxProblems caps the failed resources listed at the end.
const maxProblems = 100

// maxNDJSONLine caps one line of an NDJSON file.
const maxNDJSONLine = 32 << 20

func newImport(s *settings) *cobra.Command {
	var chunk int
	cmd := &cobra.Command{
		Use:   "import FILE|DIR...",
		Short: "Load FHIR Bundles and NDJSON files into the clinical store",
		Long: `Load FHIR R4 data into the clinical store of the configuration, in this
process (not over HTTP), through the same code as POST /fhir.

Directories are read recursively for *.json and *.ndjson files.
  - A transaction or batch Bundle is processed as POST /fhir would, with one
    difference: a POST entry whose fullUrl is urn:uuid:X (and that has no
    ifNoneExist) is stored as a PUT of Type/X, so that the uuid is the id.
  - A collection Bundle's resources are stored under their ids (or the
    urn:uuid of their fullUrl).
  - An NDJSON file holds one resource per line, each stored under its id, in
    batches of --chunk resources per store transaction.
  - A .json file holding a single resource is stored under its id.

Importing is idempotent: an update whose content equals the current version
stores nothing, so importing the same files again creates no resources and
no versions (the summary counts them as unchanged). Synthea's transaction
Bundles, whose entries are POSTs with urn:uuid fullUrls, import this way.

Writes are audited as the operator running the command. A file that cannot
be read or a transaction that fails is reported and the import goes on with
the next file; the exit status is then 1.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if chunk < 1 || chunk > 10000 {
				return fmt.Errorf("--chunk %d: want 1 to 10000", chunk)
			}
			files, err := importFiles(args)
			if err != nil {
				return err
			}
			return s.withStore(func(ctx context.Context, cfg config.Config, store concord.Store) error {
				return runImport(ctx, cfg, store, files, chunk)
			})
		},
	}
	cmd.Flags().IntVar(&chunk, "chunk", 500, "NDJSON resources per store transaction")
	return cmd
}

// importFile is a file to import and its size.
type importFile struct {
	path string
	size int64
}

// importFiles lists the files the arguments name: files as given,
// directories walked for *.json and *.ndjson in lexical order.
func importFiles(args []string) ([]importFile, error) {
	var files []importFile
	for _, arg := range args {
		fi, err := os.Stat(arg)
		if err != nil {
			return nil, fmt.Errorf("%s: %s", arg, reason(err))
		}
		if !fi.IsDir() {
			files = append(files, importFile{arg, fi.Size()})
			continue
		}
		err = filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			ext := strings.ToLower(filepath.Ext(path))
			if d.IsDir() || (ext != ".json" && ext != ".ndjson") {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			files = append(files, importFile{path, info.Size()})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %s", arg, reason(err))
		}
	}
	return files, nil
}

// importer is one run of concord import.
type importer struct {
	im       *fhirapi.Importer
	chunk    int
	progress *progress
	total    fhirapi.ImportResult
	bundles  int
	failed   []string // files that failed, with why
	problems []string // entries that failed: file, where, why
}

func runImport(ctx context.Context, cfg config.Config, store concord.Store, files []importFile, chunk int) error {
	rec := operator(cfg)
	scope, err := concord.ParseScope("system/*.cruds")
	if err != nil {
		return err
	}
	// The operator may do anything to the clinical store; audit records
	// name them (role operator).
	p := &concord.Principal{Actor: rec.Actor, Role: concord.RoleAdmin, Scopes: []concord.Scope{scope}, Address: rec.Address}
	ctx = concord.WithAuditTemplate(concord.WithPrincipal(ctx, p), rec)
	var size int64
	for _, f := range files {
		size += f.size
	}
	imp := &importer{
		// Subscriptions imported are admitted as through /fhir (owned by
		// the operator); the running server notifies for them.
		im: fhirapi.NewImporter(store, fhirapi.Options{Version: concord.Version,
			Subscriptions: subscription.New(subscription.Options{Store: store, Node: cfg.NodeName()})}),
		chunk:    chunk,
		progress: newProgress(os.Stderr, len(files), size),
	}
	for _, f := range files {
		if err := imp.file(ctx, f); err != nil {
			imp.failed = append(imp.failed, fmt.Sprintf("%s: %v", f.path, err))
			fmt.Fprintf(imp.progress.clear(), "concord import: %s: %v\n", f.path, err)
		}
		imp.progress.fileDone(f.size, imp.total.Entries())
	}
	imp.progress.finish()
	elapsed := imp.progress.elapsed()
	t := imp.total
	fmt.Printf("%d files, %d bundles: %d resources created, %d updated, %d unchanged, %d failed",
		len(files), imp.bundles, t.Created, t.Updated, t.Unchanged, t.Failed)
	if t.Deleted+t.Read > 0 {
		fmt.Printf(", %d deleted, %d read", t.Deleted, t.Read)
	}
	fmt.Printf(" in %.1fs (%.0f resources/s)\n", elapsed.Seconds(), float64(t.Entries())/max(elapsed.Seconds(), 1e-3))
	if len(imp.failed) > 0 {
		fmt.Printf("%d of %d files failed (listed above): nothing of a failed transaction is kept\n", len(imp.failed), len(files))
	}
	for i, p := range imp.problems {
		if i == maxProblems {
			fmt.Fprintf(os.Stderr, "concord import: … and %d more failed resources\n", len(imp.problems)-i)
			break
		}
		fmt.Fprintf(os.Stderr, "concord import: %s\n", p)
	}
	if len(imp.failed) > 0 || t.Failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("import: %d files and %d resources failed", len(imp.failed), t.Failed)}
	}
	return nil
}

// file imports one file.
func (imp *importer) file(ctx context.Context, f importFile) error {
	if strings.EqualFold(filepath.Ext(f.path), ".ndjson") {
		return imp.ndjson(ctx, f)
	}
	if f.size > maxImportFile {
		return fmt.Errorf("larger than %d bytes; split it, or use NDJSON", maxImportFile)
	}
	body, err := os.ReadFile(f.path)
	if err != nil {
		return errors.New(reason(err))
	}
	var r fhirapi.ImportResult
	if isBundle(body) {
		imp.bundles++
		r, err = imp.im.Bundle(ctx, body)
	} else {
		r, err = imp.im.Resources(ctx, [][]byte{body})
	}
	if err != nil {
		return errors.New(concord.ErrorMessage(err))
	}
	imp.add(r, func(i int) string { return fmt.Sprintf("%s: Bundle.entry[%d]", f.path, i) })
	return nil
}

// isBundle tells whether a JSON file holds a Bundle (else a resource).
func isBundle(body []byte) bool {
	doc, err := fhirpath.ParseJSON(body)
	if err != nil {
		return true // the Bundle reader says what is wrong
	}
	rt, _ := doc.Root().Get("resourceType")
	return rt.String() == "Bundle"
}

// ndjson imports an NDJSON file in chunks.
func (imp *importer) ndjson(ctx context.Context, f importFile) error {
	fh, err := os.Open(f.path)
	if err != nil {
		return errors.New(reason(err))
	}
	defer fh.Close()
	rd := bufio.NewReaderSize(fh, 1<<20)
	var lines [][]byte
	var numbers []int // the line number of each of lines
	flush := func() error {
		if len(lines) == 0 {
			return nil
		}
		r, err := imp.im.Resources(ctx, lines)
		if err != nil {
			return errors.New(concord.ErrorMessage(err))
		}
		at := numbers
		imp.add(r, func(i int) string { return fmt.Sprintf("%s:%d", f.path, at[i]) })
		lines, numbers = nil, nil
		return nil
	}
	for n := 1; ; n++ {
		line, err := readLine(rd)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("line %d: %v", n, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		lines, numbers = append(lines, line), append(numbers, n)
		if len(lines) == imp.chunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// readLine reads one line of at most maxNDJSONLine bytes, without its end.
func readLine(rd *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		part, err := rd.ReadSlice('\n')
		line = append(line, part...)
		if len(line) > maxNDJSONLine {
			return nil, fmt.Errorf("longer than %d bytes", maxNDJSONLine)
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(line) > 0:
			return line, nil
		case err != nil:
			return nil, err
		}
		return bytes.TrimRight(line, "\r\n"), nil
	}
}

// add counts results; where names a failed entry by its index.
func (imp *importer) add(r fhirapi.ImportResult, where func(int) string) {
	for _, f := range r.Failures {
		imp.problems = append(imp.problems, where(f.Index)+": "+f.Message)
	}
	imp.total.Add(r)
	imp.progress.update(imp.total.Entries())
}
