// Package impact replays recorded decision events against a proposed policy
// (and optionally a baseline) and reports what would change: which requests
// a policy change would deny, send to approval, allow, or grant for a
// different time, grouped by rule, profile and principal.
package impact

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/decisionlog"
	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
)

// Outcome is one decision: what the service logged, or what a replay gives.
type Outcome struct {
	Decision        string `json:"decision"` // allow, deny or require_approval
	Rule            string `json:"rule"`
	Reason          string `json:"reason"`
	Via             string `json:"via,omitempty"`
	DurationSeconds int64  `json:"duration_seconds,omitempty"`
}

// Recorded is the outcome an event logged.
func Recorded(e *decisionlog.Event) Outcome {
	return Outcome{Decision: e.Decision, Rule: e.Rule, Reason: e.Reason, Via: e.Via, DurationSeconds: e.DurationSeconds}
}

// ErrNotEvaluable is the cause of a request a policy cannot evaluate at
// all: its profile does not exist, or its caller cannot be parsed.
var ErrNotEvaluable = errors.New("the policy cannot evaluate this request")

// Request rebuilds the policy request of a replayable event under p (p's
// trusted_session_roles decide the trusted user).
func Request(p *policy.Policy, e *decisionlog.Event) (policy.Request, error) {
	return (&replayer{p: p}).request(e)
}

// replayer replays events under one policy, remembering the principals
// it parsed: a log names few callers many times.
type replayer struct {
	p          *policy.Policy
	principals map[string]policy.Principal // by caller ARN, without UserID and OrgID
}

// maxCachedPrincipals bounds a replayer's cache.
const maxCachedPrincipals = 1 << 16

func (r *replayer) principal(callerARN, userID, orgID string) (policy.Principal, error) {
	pr, ok := r.principals[callerARN]
	if !ok {
		var err error
		if pr, err = r.p.Principal(callerARN, "", ""); err != nil {
			return policy.Principal{}, err
		}
		if r.principals == nil || len(r.principals) >= maxCachedPrincipals {
			r.principals = map[string]policy.Principal{}
		}
		r.principals[callerARN] = pr
	}
	pr.UserID, pr.OrgID = userID, orgID
	return pr, nil
}

func (r *replayer) request(e *decisionlog.Event) (policy.Request, error) {
	pr, err := r.principal(e.CallerARN, e.UserID, e.OrgID)
	if err != nil {
		return policy.Request{}, fmt.Errorf("%w: caller: %v", ErrNotEvaluable, err)
	}
	req := policy.Request{
		Principal: pr, Profile: e.Profile, Time: e.Time,
		Duration: time.Duration(e.RequestedDurationSeconds) * time.Second, Client: e.Client,
	}
	if e.SourceIP != "" {
		if req.SourceIP, err = netip.ParseAddr(e.SourceIP); err != nil {
			return policy.Request{}, fmt.Errorf("%w: source_ip %q is not an IP address", ErrNotEvaluable, e.SourceIP)
		}
	}
	if e.Approved {
		req.Approval = &policy.Grant{Expires: e.ApprovalExpires}
	}
	if e.BreakGlass {
		req.BreakGlass = &policy.Grant{Expires: e.BreakGlassExpires}
	}
	return req, nil
}

// Decide is the decision the service logs for req under p: the policy's
// evaluation, and the service's refusal of an allow that STS would not
// issue (policy.Refusal).
func Decide(p *policy.Policy, req *policy.Request) Outcome {
	d := p.Evaluate(req)
	if d.Effect == policy.Allow {
		var renderErr error
		if d.Duration >= policy.MinSessionDuration {
			_, renderErr = p.Render(d, req)
		}
		if reason := policy.Refusal(d, renderErr); reason != "" {
			return Outcome{Decision: string(policy.Deny), Rule: d.Rule, Reason: reason}
		}
	}
	o := Outcome{Decision: string(d.Effect), Rule: d.Rule, Reason: d.Reason, Via: d.Via}
	if d.Effect == policy.Allow {
		o.DurationSeconds = int64(d.Duration / time.Second)
	}
	return o
}

// Replay decides a recorded event again under p. A request whose profile p
// does not have, or whose caller p cannot parse, is ErrNotEvaluable.
func Replay(p *policy.Policy, e *decisionlog.Event) (Outcome, error) {
	return (&replayer{p: p}).replay(e)
}

func (r *replayer) replay(e *decisionlog.Event) (Outcome, error) {
	if !r.p.HasProfile(e.Profile) {
		return Outcome{}, fmt.Errorf("%w: no profile %q", ErrNotEvaluable, e.Profile)
	}
	req, err := r.request(e)
	if err != nil {
		return Outcome{}, err
	}
	return Decide(r.p, &req), nil
}
