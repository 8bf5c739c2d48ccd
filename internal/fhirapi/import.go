package fhirapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/httperr"
)

// Limits of POST /fhir/$import.
const (
	// maxImportBody caps the NDJSON body, as POST /fhir caps a Bundle:
	// the request must end within the server's read and write deadlines
	// (60 s, 120 s). Larger loads go in several requests, or through
	// concord import.
	maxImportBody = 64 << 20
	// importChunk and importChunkBytes bound a batch: one store
	// transaction per 500 lines (concord import's default chunk) or 16
	// MiB, whichever comes first.
	importChunk      = 500
	importChunkBytes = 16 << 20
	// maxImportIssues caps the per-line issues of the answer (failures
	// are listed before the lines that went well are dropped).
	maxImportIssues = 10_000
)

// ndjsonTypes are the media types $import reads.
var ndjsonTypes = map[string]bool{"application/fhir+ndjson": true, "application/ndjson": true, "application/x-ndjson": true}

// importNDJSON is POST /fhir/$import: the body is NDJSON, one resource
// per line, each stored under its own id as concord import stores an
// NDJSON file (a PUT: created, updated, or left alone when unchanged), in
// batches of importChunk lines: a line that fails fails only itself.
// Each resource is authorised on its type and audited as a Bundle entry
// is. The answer is an OperationOutcome: a summary, then one issue per
// line (expression "line N", numbered from 1). The Bulk Data Import
// "ping and pull" form (a Parameters body naming files to fetch) answers
// 501.
func (a *api) importNDJSON(w http.ResponseWriter, r *http.Request, _ string) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case err == nil && ndjsonTypes[mt]:
	case err == nil && (mt == fhirJSON || mt == "application/json"):
		httperr.Write(w, r, concord.Errorf(concord.EUNSUPPORTED, "$import of a Parameters body (Bulk Data Import, files fetched by the server) is not supported: POST the NDJSON itself as application/fhir+ndjson"))
		return
	default:
		httperr.Write(w, r, concord.Errorf(concord.EINVALID, "$import takes NDJSON (application/fhir+ndjson), not %q", ct))
		return
	}
	if r.ContentLength > maxImportBody {
		httperr.Write(w, r, concord.Errorf(concord.ETOOLARGE, "an $import body is at most %d bytes; split it", maxImportBody))
		return
	}
	ctx := r.Context()
	rd := newNDJSONReader(r.Body, maxResource, maxImportBody)
	sum := &importSummary{}
	var lines [][]byte
	var numbers []int
	size := 0
	flush := func() error {
		if len(lines) == 0 {
			return nil
		}
		b, err := a.putResources(ctx, lines)
		if err != nil {
			return err
		}
		for i, e := range b.entries {
			sum.entry(numbers[i], e)
		}
		lines, numbers, size = nil, nil, 0
		return nil
	}
	var stop error // why reading stopped before the end
	for {
		line, err := rd.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			var le *lineError
			if errors.As(err, &le) {
				sum.fail(rd.line, le.err)
				continue
			}
			stop = err
			break
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		lines, numbers = append(lines, line), append(numbers, rd.line)
		size += len(line)
		if len(lines) == importChunk || size >= importChunkBytes {
			if err := flush(); err != nil {
				httperr.Write(w, r, err)
				return
			}
		}
	}
	if err := flush(); err != nil {
		httperr.Write(w, r, err)
		return
	}
	status := http.StatusOK
	if stop != nil {
		if concord.ErrorCode(stop) == "" {
			stop = concord.Errorf(concord.EINVALID, "reading the body: %v", stop)
		}
		status = httperr.Status(stop)
		sum.stopped(rd.line, stop)
	} else if sum.lines == 0 {
		httperr.Write(w, r, concord.Errorf(concord.EINVALID, "the body holds no resources"))
		return
	}
	body, err := json.Marshal(sum.outcome())
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	writeBody(w, r, status, body)
}

// importSummary is what an $import did, line by line.
type importSummary struct {
	lines, created, updated, unchanged, failed int
	issues                                     []map[string]any // the failed lines'
	done                                       []map[string]any // the lines that went well
	unlisted                                   int
	last                                       map[string]any // why reading stopped, if it did
}

// where names a line in an issue.
func where(line int) string { return fmt.Sprintf("line %d", line) }

// entry records the outcome of the resource of a line.
func (s *importSummary) entry(line int, e *entry) {
	if e.out == outFailed {
		s.fail(line, e.failure)
		return
	}
	s.lines++
	what := ""
	switch e.out {
	case outCreated:
		s.created++
		what = "created"
	case outUpdated:
		s.updated++
		what = "updated"
	default:
		s.unchanged++
		what = "unchanged"
	}
	if len(s.done) >= maxImportIssues {
		s.unlisted++
		return
	}
	msg := fmt.Sprintf("%s: %s/%s %s", where(line), e.typ, e.id, what)
	if e.current != nil {
		msg += fmt.Sprintf(" (version %d)", e.current.Version)
	}
	s.done = append(s.done, map[string]any{"severity": concord.SeverityInformation, "code": "informational",
		"expression": []string{where(line)}, "diagnostics": msg})
}

// fail records a line that failed, with its issues (a validation's each
// name the line and the element).
func (s *importSummary) fail(line int, err error) {
	s.lines++
	s.failed++
	issues, _ := httperr.Outcome(err, where(line))["issue"].([]map[string]any)
	for _, is := range issues {
		if len(s.issues) >= maxImportIssues {
			s.unlisted++
			continue
		}
		exprs, _ := is["expression"].([]string)
		if len(exprs) == 0 || exprs[0] != where(line) {
			is["expression"] = append([]string{where(line)}, exprs...)
		}
		s.issues = append(s.issues, is)
	}
}

// stopped records why reading stopped at line.
func (s *importSummary) stopped(line int, err error) {
	issues, _ := httperr.Outcome(err)["issue"].([]map[string]any)
	if len(issues) > 0 {
		s.last = issues[0]
		s.last["diagnostics"] = fmt.Sprintf("%s and after were not read: %s", where(line), concord.ErrorMessage(err))
	}
}

// outcome is the answer: the summary first, then the failed lines, then
// the others, at most maxImportIssues lines' issues in all.
func (s *importSummary) outcome() map[string]any {
	summary := fmt.Sprintf("%d resources: %d created, %d updated, %d unchanged, %d failed", s.lines, s.created, s.updated, s.unchanged, s.failed)
	severity := concord.SeverityInformation
	if s.failed > 0 || s.last != nil {
		severity = concord.SeverityWarning
	}
	issues := []map[string]any{{"severity": severity, "code": "informational", "diagnostics": summary}}
	if s.last != nil {
		issues = append(issues, s.last)
	}
	issues = append(issues, s.issues...)
	room := max(0, maxImportIssues-len(s.issues))
	done := s.done[:min(room, len(s.done))]
	issues = append(issues, done...)
	if unlisted := s.unlisted + len(s.done) - len(done); unlisted > 0 {
		issues = append(issues, map[string]any{"severity": concord.SeverityInformation, "code": "informational",
			"diagnostics": fmt.Sprintf("%d more issues not listed", unlisted)})
	}
	return map[string]any{"resourceType": "OperationOutcome", "issue": issues}
}

// ndjsonReader reads NDJSON lines from a body with two caps: a line of
// more than maxLine bytes is skipped to its end and reported (a
// *lineError: the reading goes on), and past maxTotal bytes reading
// stops with ETOOLARGE. Memory stays within a line and the buffer.
type ndjsonReader struct {
	rd      *bufio.Reader
	body    *cappedReader
	maxLine int
	line    int // the number of the line last read, from 1
}

// lineError is what is wrong with one line; the next can be read.
type lineError struct{ err error }

func (e *lineError) Error() string { return e.err.Error() }

func newNDJSONReader(r io.Reader, maxLine int, maxTotal int64) *ndjsonReader {
	body := &cappedReader{r: r, left: maxTotal, limit: maxTotal}
	return &ndjsonReader{rd: bufio.NewReaderSize(body, 64<<10), body: body, maxLine: maxLine}
}

// next returns the next line without its end (\n or \r\n), io.EOF after
// the last, a *lineError for a line too long, or another error when the
// body cannot be read further.
func (n *ndjsonReader) next() ([]byte, error) {
	var line []byte
	long := false
	started := false
	for {
		part, err := n.rd.ReadSlice('\n')
		if len(part) > 0 && !started {
			started = true
			n.line++
		}
		if !long {
			line = append(line, part...)
			if len(line) > n.maxLine+2 || (len(line) > n.maxLine && len(bytes.TrimRight(line, "\r\n")) > n.maxLine) {
				long, line = true, nil
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && started:
		case err != nil:
			return nil, err
		}
		break
	}
	if long {
		return nil, &lineError{concord.Errorf(concord.ETOOLARGE, "the line is longer than %d bytes", n.maxLine)}
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

// cappedReader reads at most left bytes from r, then fails with
// ETOOLARGE if r holds more.
type cappedReader struct {
	r           io.Reader
	left, limit int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		if n, _ := io.ReadFull(c.r, one[:]); n == 0 {
			return 0, io.EOF
		}
		return 0, concord.Errorf(concord.ETOOLARGE, "the body is over its limit of %d bytes", c.limit)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
