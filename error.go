package concord

import (
	"errors"
	"fmt"
)

// Error codes are the one taxonomy of failures in Concord. Each front door
// translates them through a single table: HTTP status and OperationOutcome,
// HL7 acknowledgment code and ERR, DIMSE status, X12 999. The engine decides
// between retry and dead letter from the same code (see IsRetryable).
const (
	EINVALID      = "invalid"      // the input is malformed or breaks a rule
	ENOTFOUND     = "not_found"    // the addressed object does not exist
	ECONFLICT     = "conflict"     // the request conflicts with the current state
	EGONE         = "gone"         // the addressed object existed and was deleted
	EPRECONDITION = "precondition" // a condition the caller set (If-Match) does not hold
	EUNAUTHORIZED = "unauthorized" // no credentials, or credentials not valid
	EFORBIDDEN    = "forbidden"    // credentials valid, action not allowed
	ETOOLARGE     = "too_large"    // the input is over a size limit
	EUNAVAILABLE  = "unavailable"  // a dependency is down; trying again may work
	EUNSUPPORTED  = "unsupported"  // valid request for something Concord does not do
	EINTERNAL     = "internal"     // a fault in Concord itself
)

// Error is a failure with a code from the taxonomy above and a message that
// is safe to show to the caller. Err keeps the underlying cause for logs.
// Issues, when set, are the individual problems found in the input (each
// with its location), which the front doors report one by one.
type Error struct {
	Code    string
	Message string
	Err     error
	Issues  []Issue
}

// Error returns the message, followed by the cause when there is one.
func (e *Error) Error() string {
	if e.Err != nil {
		if e.Message == "" {
			return e.Err.Error()
		}
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an *Error with the given code and message that keeps err
// as its cause.
func WrapError(code string, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of the first *Error in err's
// chain. Other errors may carry internal detail, so they give a generic text.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorIssues returns the issues of the first *Error in err's chain, nil
// when it has none.
func ErrorIssues(err error) []Issue {
	var e *Error
	if errors.As(err, &e) {
		return e.Issues
	}
	return nil
}

// IsRetryable reports whether an operation that failed with err may succeed
// when tried again unchanged. Deliveries are retried on these and dead
// lettered on everything else.
func IsRetryable(err error) bool {
	return ErrorCode(err) == EUNAVAILABLE
}
