package vend

import (
	"context"
	"errors"

	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
)

// PolicySource yields the current policy.
type PolicySource interface {
	Policy(ctx context.Context) (*policy.Policy, error)
}

// ErrPolicyUnavailable wraps every reason the policy cannot be had: the
// service answers 503 and vends nothing.
var ErrPolicyUnavailable = errors.New("policy unavailable")

// StaticPolicy is a PolicySource for a fixed policy (tests, explain).
type StaticPolicy struct{ P *policy.Policy }

// Policy returns the fixed policy.
func (s StaticPolicy) Policy(context.Context) (*policy.Policy, error) { return s.P, nil }
