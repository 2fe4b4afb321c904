package vend

import (
	"context"
	"encoding/json"
	"fmt"
)

// SweepEvent is the scheduled event that runs the approval-expiry sweep
// in the API function: {"sentinel_tvm_sweep": "approvals"}. An API Gateway
// event can never look like it (its client's input is inside "body").
type SweepEvent struct {
	Sweep string `json:"sentinel_tvm_sweep"`
}

// SweepApprovals is the only sweep there is.
const SweepApprovals = "approvals"

// IsSweepEvent reports whether raw is a SweepEvent (and not an API
// request): an object with the sweep key and no requestContext.
func IsSweepEvent(raw json.RawMessage) bool {
	var probe struct {
		Sweep          *string          `json:"sentinel_tvm_sweep"`
		RequestContext *json.RawMessage `json:"requestContext"`
	}
	return json.Unmarshal(raw, &probe) == nil && probe.Sweep != nil && probe.RequestContext == nil
}

// SweepResult is what a sweep did.
type SweepResult struct {
	Expired int `json:"expired"` // approval requests whose expiry it stored and announced
}

// sweepBatch bounds the requests one sweep expires; a schedule's next run
// takes the rest.
const sweepBatch = 100

// Sweep marks the approval requests past their expiry as expired and
// announces each one (the approval_expired audit event and notification)
// as it happens, instead of when someone next acts on it. The store
// returns each expiry to exactly one sweep, so overlapping runs announce
// nothing twice. It takes no input but the event's name.
func (s *Service) Sweep(ctx context.Context, ev SweepEvent) (SweepResult, error) {
	if ev.Sweep != SweepApprovals {
		return SweepResult{}, fmt.Errorf("unknown sweep %q (want %q)", ev.Sweep, SweepApprovals)
	}
	expired, err := s.d.Store.ExpireApprovals(ctx, sweepBatch)
	for _, a := range expired {
		c := &call{requestID: "sweep-" + a.ID}
		s.audit(ctx, c, Notification{Event: EventApprovalExpired, Actor: "sentinel-tvm expiry sweep", Principal: a.Principal, User: a.User,
			Profile: a.Profile, Rule: a.Rule, ApprovalID: a.ID, Status: string(a.Status), Justification: a.Justification, ExpiresAt: a.ExpiresAt})
	}
	if err != nil {
		s.d.Log.Error("approval expiry sweep failed", "expired", len(expired), "cause", awsErrorCode(err), "error", shortError(err))
		return SweepResult{Expired: len(expired)}, fmt.Errorf("approval expiry sweep: %w", err)
	}
	s.d.Log.Info("approval expiry sweep", "expired", len(expired))
	return SweepResult{Expired: len(expired)}, nil
}
