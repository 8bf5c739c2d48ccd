// Package validate checks FHIR R4 resources in JSON against the base
// definitions of package fhir: unknown elements, the JSON shape (arrays,
// objects, primitives and their _name twins, nulls), cardinality, choice
// elements, primitive formats, required bindings to the value sets the
// specification expands, the resource types references may name, and
// the FHIRPath invariants of every element and type (ele-1, ext-1, the
// dom-* rules, each resource's own). Contained resources, Bundle entries
// and Parameters resources are validated as resources.
//
// Each problem is a concord.Issue whose Expression is a FHIRPath to the
// element, such as Patient.name[0].given[1]; the HTTP front door reports
// them as an OperationOutcome. Validation never fails: whatever JSON it
// is given, it returns issues. Its work is bounded (issues listed, and the
// steps spent evaluating invariants), so a hostile document costs time in
// proportion to its size.
package validate

import (
	"context"
	"strconv"
	"sync"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhirpath"
)

// Issue types (http://hl7.org/fhir/issue-type) the validator reports.
const (
	CodeStructure     = "structure"     // unknown element, wrong JSON shape
	CodeRequired      = "required"      // a required element is missing
	CodeValue         = "value"         // a primitive's value is not valid for its type
	CodeCodeInvalid   = "code-invalid"  // a code is not in a required value set
	CodeInvariant     = "invariant"     // a FHIRPath invariant does not hold
	CodeInvalid       = "invalid"       // other content errors (reference targets)
	CodeTooCostly     = "too-costly"    // validation stopped at a limit
	CodeInformational = "informational" // a note, such as "no problems found"
)

// Limits on one validation.
const (
	// MaxIssues caps the errors listed, and separately the warnings. At
	// the cap for errors validation stops, with one more issue saying so.
	MaxIssues = 100
	// InvariantSteps and InvariantStepsPerByte bound the FHIRPath steps
	// spent on invariants in one validation: InvariantSteps plus
	// InvariantStepsPerByte for each byte of the resource's JSON (the
	// other checks are linear in its size). The Synthea bundles need
	// about one step for every seven bytes. Invariants left when the
	// budget is spent are skipped with a warning.
	InvariantSteps        = 1_000_000
	InvariantStepsPerByte = 0.5
	// maxStepsPerInvariant bounds one invariant's evaluation; one that
	// needs more gives a warning.
	maxStepsPerInvariant = 1_000_000
)

// Resource validates the resource a document holds.
func Resource(ctx context.Context, doc *fhirpath.Doc) []concord.Issue {
	return At(ctx, doc.Root())
}

// At validates the resource at r (a JSON object with a resourceType).
// ctx bounds the evaluation of invariants in time.
func At(ctx context.Context, r fhirpath.JSONRef) []concord.Issue {
	v := validators.Get().(*validator)
	*v = validator{ctx: ctx, budget: InvariantSteps + int(InvariantStepsPerByte*float64(len(r.JSON()))),
		path: v.path[:0], scratch: v.scratch[:0]}
	v.opt.Context = ctx
	v.opt.Spent = &v.steps
	v.resource(r, false)
	out := v.result()
	// Keep only the buffers (path, scratch: cleared after each object)
	// for the next resource; the issues belong to the caller.
	*v = validator{path: v.path[:0], scratch: v.scratch[:0]}
	validators.Put(v)
	return out
}

// validators keeps walkers between resources, so that their path and
// member buffers are reused.
var validators = sync.Pool{New: func() any { return new(validator) }}

// HasErrors tells whether any issue makes the resource invalid.
func HasErrors(issues []concord.Issue) bool {
	for _, is := range issues {
		if is.IsError() {
			return true
		}
	}
	return false
}

// result returns the issues with a last one saying what the caps left out.
func (v *validator) result() []concord.Issue {
	out := v.issues
	if v.full {
		out = append(out, concord.Issue{Severity: concord.SeverityError, Code: CodeTooCostly,
			Diagnostics: "more than " + strconv.Itoa(MaxIssues) + " errors: validation stopped there"})
	}
	if v.droppedWarnings > 0 {
		out = append(out, concord.Issue{Severity: concord.SeverityInformation, Code: CodeInformational,
			Diagnostics: strconv.Itoa(v.droppedWarnings) + " more warnings are not listed"})
	}
	return out
}
