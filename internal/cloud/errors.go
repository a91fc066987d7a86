package cloud

import (
	"errors"
	"fmt"
)

// Error is an error with an AWS error code. AWS error codes are part of the
// observable contract of every business rule (InvalidSubnet.Conflict,
// DependencyViolation, ...), so the rules produce them directly; the API layer
// only chooses the HTTP status and the XML shape.
type Error struct {
	Code    string
	Message string
	// Status overrides the HTTP status (default 400).
	Status int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// NotFound is the AWS "<Kind>.NotFound" error for a resource ID.
func NotFound(code, what, id string) *Error {
	return Errorf(code, "The %s '%s' does not exist", what, id)
}

// MissingParameter reports an absent required parameter.
func MissingParameter(name string) *Error {
	return Errorf("MissingParameter", "The request must contain the parameter %s", name)
}

// InvalidParameterValue reports a bad parameter value, naming the parameter.
func InvalidParameterValue(name, value, why string) *Error {
	if why == "" {
		return Errorf("InvalidParameterValue", "Value (%s) for parameter %s is invalid.", value, name)
	}
	return Errorf("InvalidParameterValue", "Value (%s) for parameter %s is invalid. %s", value, name, why)
}

// Authentication failures, reported by the identity directory and rendered
// by the API layer with each service's own error code.
var (
	ErrUnknownAccessKey = errors.New("cloud: unknown access key")
	ErrExpiredToken     = errors.New("cloud: security token expired")
)
