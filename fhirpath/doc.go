// Package fhirpath is a FHIRPath engine for FHIR R4: the FHIRPath 2.0
// normative language (http://hl7.org/fhirpath/N1) with the FHIR-specific
// functions and variables that R4 defines.
//
// This first part is the parser: Parse turns an expression into a syntax
// tree (Literal, Member, Call, Index, Unary, Binary, TypeOp, Var, Special)
// following the specification's grammar and operator precedence, with
// limits on length and nesting so that hostile input cannot exhaust the
// stack. Format prints a tree back as a fully parenthesised expression.
// Evaluation comes next (see docs/NOTES.md).
package fhirpath
