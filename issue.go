package concord

// Severities of an Issue (those of FHIR's issue-severity code system).
const (
	SeverityFatal       = "fatal"
	SeverityError       = "error"
	SeverityWarning     = "warning"
	SeverityInformation = "information"
)

// Issue is one problem found in an input, with where it is. An *Error
// carries the issues that made an input invalid; each front door reports
// them in its own form (an OperationOutcome issue on FHIR routes).
type Issue struct {
	// Severity is SeverityError, SeverityWarning, SeverityInformation or
	// SeverityFatal; only errors and fatal issues make an input invalid.
	Severity string `json:"severity"`
	// Code is the kind of problem, as a FHIR issue-type code
	// (http://hl7.org/fhir/issue-type) such as structure, required, value,
	// code-invalid or invariant; empty means the one the error's code maps
	// to.
	Code string `json:"code,omitempty"`
	// Expression is where the problem is: for FHIR input a FHIRPath such
	// as Patient.name[0].given[1]; empty when it concerns the whole input.
	Expression string `json:"expression,omitempty"`
	// Diagnostics says what is wrong, for people.
	Diagnostics string `json:"diagnostics,omitempty"`
}

// IsError tells whether the issue makes the input invalid (severity error
// or fatal).
func (i Issue) IsError() bool { return i.Severity == SeverityError || i.Severity == SeverityFatal }
