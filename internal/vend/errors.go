package vend

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
)

// Error codes of the API (docs/design.md "HTTP API").
const (
	CodeInvalidRequest   = "invalid_request"
	CodeForbidden        = "forbidden"
	CodePolicyDenied     = "policy_denied"
	CodeApprovalRequired = "approval_required"
	CodeSessionRevoked   = "session_revoked"
	CodeNotFound         = "not_found"
	CodeConflict         = "conflict"
	CodeRateLimited      = "rate_limited"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
)

var codeStatus = map[string]int{
	CodeInvalidRequest:   http.StatusBadRequest,
	CodeForbidden:        http.StatusForbidden,
	CodePolicyDenied:     http.StatusForbidden,
	CodeApprovalRequired: http.StatusForbidden,
	CodeSessionRevoked:   http.StatusForbidden,
	CodeNotFound:         http.StatusNotFound,
	CodeConflict:         http.StatusConflict,
	CodeRateLimited:      http.StatusTooManyRequests,
	CodeUnavailable:      http.StatusServiceUnavailable,
	CodeInternal:         http.StatusInternalServerError,
}

// apiError is an error answer. Message goes to the client and must be short
// and free of AWS error text, other principals' ARNs and secrets; Cause goes
// to the log only.
type apiError struct {
	Code       string
	Message    string
	Cause      error
	ApprovalID string // approval_required
	RetryAfter int    // rate_limited, seconds
}

func (e *apiError) Error() string {
	if e.Cause != nil {
		return e.Code + ": " + e.Message + ": " + e.Cause.Error()
	}
	return e.Code + ": " + e.Message
}

func fail(code, format string, args ...any) *apiError {
	return &apiError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// maxText is the longest justification, comment or reason, in characters.
const maxText = 1024

// checkProfileName refuses a profile that is not a profile name.
func checkProfileName(name string) *apiError {
	if !policy.IsProfileName(name) {
		return fail(CodeInvalidRequest, "profile must be a profile name (1-64 letters, digits, '.', '_' or '-')")
	}
	return nil
}

// checkText refuses free text over maxText characters, and empty (or
// blank) text when it is required.
func checkText(field, text string, required bool) *apiError {
	switch {
	case required && (strings.TrimSpace(text) == "" || utf8.RuneCountInString(text) > maxText):
		return fail(CodeInvalidRequest, "%s is required, at most %d characters", field, maxText)
	case utf8.RuneCountInString(text) > maxText:
		return fail(CodeInvalidRequest, "%s must be at most %d characters", field, maxText)
	}
	return nil
}

func failCause(code string, cause error, format string, args ...any) *apiError {
	return &apiError{Code: code, Message: fmt.Sprintf(format, args...), Cause: cause}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code              string `json:"code"`
	Message           string `json:"message"`
	RequestID         string `json:"request_id"`
	ApprovalID        string `json:"approval_id,omitempty"`
	RetryAfterSeconds int    `json:"retry_after_seconds,omitempty"`
}

func (e *apiError) response(requestID string) Response {
	status, ok := codeStatus[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	resp := jsonResponse(status, errorBody{errorDetail{
		Code: e.Code, Message: e.Message, RequestID: requestID,
		ApprovalID: e.ApprovalID, RetryAfterSeconds: e.RetryAfter,
	}})
	if e.Code == CodeRateLimited && e.RetryAfter > 0 {
		resp.Headers["Retry-After"] = strconv.Itoa(e.RetryAfter)
	}
	return resp
}

// asAPIError turns any error into an apiError; unknown errors are internal.
func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return failCause(CodeInternal, err, "internal error")
}
