package policy

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// MinSessionDuration is the shortest session STS issues.
const MinSessionDuration = 15 * time.Minute

// Refusal returns why the service refuses an allow decision before it calls
// STS, or "" when it does not: a granted duration below the STS minimum, or
// request values that cannot be rendered into the profile's session policy
// or tags (Render's error). The service and policy replay share it, so that
// a replayed decision is the logged one.
func Refusal(d Decision, renderErr error) string {
	switch {
	case d.Effect != Allow:
		return ""
	case d.Duration < MinSessionDuration:
		return fmt.Sprintf("the session would last %s, less than the 15m STS minimum", d.Duration)
	case renderErr == nil:
		return ""
	case errors.Is(renderErr, ErrUnsafeValue):
		return "a value of this request cannot be used in the session policy"
	case errors.Is(renderErr, ErrEmptyValue):
		// The reason names the variable (e.g. principal.user), never its value.
		return fmt.Sprintf("the profile's session scoping needs %s, which is empty for this caller", emptyVariable(renderErr))
	}
	return "this request's values break an STS limit of the profile's session scoping"
}

// HasProfile reports whether the policy has a profile of this name.
func (p *Policy) HasProfile(name string) bool {
	_, ok := p.profiles[name]
	return ok
}

// emptyVariable is the variable an ErrEmptyValue names, e.g. principal.user.
func emptyVariable(err error) string {
	msg := err.Error()
	if i, j := strings.LastIndexByte(msg, '('), strings.LastIndexByte(msg, ')'); i >= 0 && j > i {
		return msg[i+1 : j]
	}
	return "a value"
}
