package vend

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
)

// approvalJSON is an approval request as the API shows it.
type approvalJSON struct {
	ApprovalID      string         `json:"approval_id"`
	Status          string         `json:"status"`
	Profile         string         `json:"profile"`
	Requester       string         `json:"requester"`
	RequesterUser   string         `json:"requester_user,omitempty"`
	Rule            string         `json:"rule"`
	Justification   string         `json:"justification,omitempty"`
	DurationSeconds int            `json:"duration_seconds,omitempty"`
	MinApprovals    int            `json:"min_approvals"`
	Decisions       []decisionJSON `json:"decisions"`
	CreatedAt       string         `json:"created_at"`
	ExpiresAt       string         `json:"expires_at"`
	DecidedAt       string         `json:"decided_at,omitempty"`
	UsableUntil     string         `json:"usable_until,omitempty"` // approved: the vend must happen before
	CancelledBy     string         `json:"cancelled_by,omitempty"`
	UsedAt          string         `json:"used_at,omitempty"`
	SessionID       string         `json:"session_id,omitempty"` // used: the session it was used for
}

type decisionJSON struct {
	Approver string `json:"approver"`
	Decision string `json:"decision"` // approve or deny
	Comment  string `json:"comment,omitempty"`
	At       string `json:"at"`
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func (s *Service) approvalView(a store.ApprovalRequest) approvalJSON {
	v := approvalJSON{
		ApprovalID: a.ID, Status: string(a.Status), Profile: a.Profile, Requester: a.Principal, RequesterUser: a.User,
		Rule: a.Rule, Justification: a.Justification, DurationSeconds: a.DurationSeconds, MinApprovals: a.MinApprovals,
		Decisions: []decisionJSON{}, CreatedAt: rfc3339(a.CreatedAt), ExpiresAt: rfc3339(a.ExpiresAt), DecidedAt: rfc3339(a.DecidedAt),
		CancelledBy: a.CancelledBy, UsedAt: rfc3339(a.UsedAt), SessionID: a.UsedBySession,
	}
	for _, d := range a.Decisions {
		dec := "deny"
		if d.Approve {
			dec = "approve"
		}
		v.Decisions = append(v.Decisions, decisionJSON{Approver: d.Approver, Decision: dec, Comment: d.Comment, At: rfc3339(d.At)})
	}
	if a.Status == store.ApprovalApproved {
		until := a.DecidedAt.Add(s.cfg.ApprovalWindow)
		if a.ExpiresAt.Before(until) {
			until = a.ExpiresAt
		}
		v.UsableUntil = rfc3339(until)
	}
	return v
}

// requesterOf is the requester of an approval as the policy sees people.
func requesterOf(a store.ApprovalRequest) policy.Principal {
	return policy.Principal{ARN: a.Principal, User: a.User}
}

// createApprovalRequest is the body of POST /v1/approvals.
type createApprovalRequest struct {
	Profile         string `json:"profile"`
	Justification   string `json:"justification"`
	DurationSeconds *int64 `json:"duration_seconds,omitempty"`
}

// createApproval answers POST /v1/approvals: a pending request for a
// profile the policy puts behind approval for this caller (or the pending
// one the caller already has: 200 instead of 201).
func (s *Service) createApproval(ctx context.Context, c *call) (Response, *apiError) {
	var body createApprovalRequest
	if aerr := decodeBody(c.req, &body); aerr != nil {
		return Response{}, aerr
	}
	c.profile = body.Profile
	if aerr := checkProfileName(body.Profile); aerr != nil {
		return Response{}, aerr
	}
	if aerr := checkText("justification", body.Justification, true); aerr != nil {
		return Response{}, aerr
	}
	var requested time.Duration
	if body.DurationSeconds != nil {
		secs := *body.DurationSeconds
		if secs < int64(minSTSDuration/time.Second) || secs > int64(policy.MaxSessionDuration/time.Second) {
			return Response{}, fail(CodeInvalidRequest, "duration_seconds must be from 900 to 3600")
		}
		requested = time.Duration(secs) * time.Second
	}
	p, aerr := s.loadPolicy(ctx, c)
	if aerr != nil {
		return Response{}, aerr
	}
	// Counted like a vend, so nobody floods approvers with requests.
	if aerr := s.count(ctx, c, body.Profile); aerr != nil {
		return Response{}, aerr
	}
	preq := policy.Request{Principal: *c.caller, Profile: body.Profile, Time: s.d.Now().UTC(), SourceIP: c.sourceIP, Duration: requested, Client: c.client}
	d := p.Evaluate(&preq)
	c.recordDecision(p, &preq, d)
	switch d.Effect {
	case policy.Deny:
		return Response{}, fail(CodePolicyDenied, "%s", d.Reason)
	case policy.Allow:
		return Response{}, fail(CodeInvalidRequest, "the policy allows this request without approval; use POST /v1/credentials")
	}
	a, created, aerr := s.openApproval(ctx, c, p, d, &preq, body.Justification)
	if aerr != nil {
		return Response{}, aerr
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return jsonResponse(status, s.approvalView(a)), nil
}

// openApproval creates the caller's pending request for the decision's
// require_approval rule, or returns the pending one; a new one is audited
// and notified.
func (s *Service) openApproval(ctx context.Context, c *call, p *policy.Policy, d policy.Decision, preq *policy.Request, justification string) (store.ApprovalRequest, bool, *apiError) {
	id, err := s.d.NewID()
	if err != nil {
		return store.ApprovalRequest{}, false, failCause(CodeInternal, err, "internal error")
	}
	rule, _ := p.Rule(d.Rule)
	a, created, err := s.d.Store.CreateApproval(ctx, store.ApprovalRequest{
		ID: id, Principal: preq.Principal.ARN, User: preq.Principal.User, Profile: preq.Profile, Rule: d.Rule,
		Justification: justification, DurationSeconds: int(preq.Duration / time.Second),
		MinApprovals: max(rule.MinApprovals, 1), CreatedAt: preq.Time, ExpiresAt: preq.Time.Add(s.cfg.ApprovalTTL),
	})
	if err != nil {
		return store.ApprovalRequest{}, false, failCause(CodeUnavailable, err, "the approval request could not be recorded; try again later")
	}
	if created {
		s.audit(ctx, c, Notification{Event: EventApprovalRequested, Principal: a.Principal, User: a.User, Profile: a.Profile,
			Rule: a.Rule, DurationSeconds: int64(a.DurationSeconds), ApprovalID: a.ID, Status: string(a.Status),
			Justification: a.Justification, ExpiresAt: a.ExpiresAt})
	}
	return a, created, nil
}

var approvalStatuses = []store.ApprovalStatus{
	store.ApprovalPending, store.ApprovalApproved, store.ApprovalDenied,
	store.ApprovalCancelled, store.ApprovalExpired, store.ApprovalUsed,
}

// listApprovals answers GET /v1/approvals[?status=&limit=&next_token=]:
// the caller's own requests, and the requests in that status (default
// pending) the caller may decide (or, for operators, all of them), newest
// first, paged (paging.go).
func (s *Service) listApprovals(ctx context.Context, c *call) (Response, *apiError) {
	q, filtered := query(c, "status")
	status := store.ApprovalStatus(q)
	if filtered && !slices.Contains(approvalStatuses, status) {
		return Response{}, fail(CodeInvalidRequest, "status must be pending, approved, denied, cancelled, expired or used")
	}
	p, aerr := s.loadPolicy(ctx, c)
	if aerr != nil {
		return Response{}, aerr
	}
	pg, aerr := readPage(c, "approvals", string(status))
	if aerr != nil {
		return Response{}, aerr
	}
	// Two lists merged: the caller's own requests (in status, when
	// given) and the requests in status (default pending) the caller may
	// decide. Each gives its first limit+1 visible ones after the cursor,
	// which hold the merged list's first limit+1.
	own, err := collect(pg.limit+1, true, pg.after, func(after store.Cursor, size int) ([]store.ApprovalRequest, error) {
		return s.d.Store.ListApprovalsByRequester(ctx, c.caller.ARN, c.caller.User, store.Page{Before: after, Limit: size})
	}, approvalCursor, func(a store.ApprovalRequest) bool { return status == "" || a.Status == status })
	if err != nil {
		return Response{}, failCause(CodeUnavailable, err, "approvals are unavailable; try again later")
	}
	partition := status
	if partition == "" {
		partition = store.ApprovalPending
	}
	operator := p.IsOperator(*c.caller)
	others, err := collect(pg.limit+1, true, pg.after, func(after store.Cursor, size int) ([]store.ApprovalRequest, error) {
		return s.d.Store.ListApprovalsByStatus(ctx, partition, store.Page{Before: after, Limit: size})
	}, approvalCursor, func(a store.ApprovalRequest) bool {
		return operator || p.CanApprove(a.Rule, requesterOf(a), *c.caller)
	})
	if err != nil {
		return Response{}, failCause(CodeUnavailable, err, "approvals are unavailable; try again later")
	}
	seen := map[string]bool{}
	var out []store.ApprovalRequest
	for _, a := range append(own, others...) {
		if !seen[a.ID] {
			seen[a.ID] = true
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b store.ApprovalRequest) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	body := map[string]any{}
	out = page(pg, out, approvalCursor, body)
	views := make([]approvalJSON, 0, len(out))
	for _, a := range out {
		views = append(views, s.approvalView(a))
	}
	body["approvals"] = views
	return jsonResponse(http.StatusOK, body), nil
}

func approvalCursor(a store.ApprovalRequest) store.Cursor {
	return store.Cursor{Time: a.CreatedAt, ID: a.ID}
}

// pathID returns the {id} path parameter, checked.
func pathID(c *call, what string) (string, *apiError) {
	id := c.req.PathParameters["id"]
	if !idRE.MatchString(id) {
		return "", fail(CodeNotFound, "no such %s", what)
	}
	return id, nil
}

// loadApproval reads the approval of the path and checks that the caller
// may see it: the requester, a possible approver, or an operator.
func (s *Service) loadApproval(ctx context.Context, c *call) (*policy.Policy, store.ApprovalRequest, *apiError) {
	id, aerr := pathID(c, "approval request")
	if aerr != nil {
		return nil, store.ApprovalRequest{}, aerr
	}
	p, aerr := s.loadPolicy(ctx, c)
	if aerr != nil {
		return nil, store.ApprovalRequest{}, aerr
	}
	a, err := s.d.Store.GetApproval(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, store.ApprovalRequest{}, fail(CodeNotFound, "no such approval request")
	case err != nil:
		return nil, store.ApprovalRequest{}, failCause(CodeUnavailable, err, "approvals are unavailable; try again later")
	}
	c.profile, c.rule = a.Profile, a.Rule
	if requesterOf(a).Person() != c.caller.Person() && !p.CanApprove(a.Rule, requesterOf(a), *c.caller) && !p.IsOperator(*c.caller) {
		return nil, store.ApprovalRequest{}, fail(CodeForbidden, "only the requester, its approvers and operators see this approval request")
	}
	return p, a, nil
}

// getApproval answers GET /v1/approvals/{id}.
func (s *Service) getApproval(ctx context.Context, c *call) (Response, *apiError) {
	_, a, aerr := s.loadApproval(ctx, c)
	if aerr != nil {
		return Response{}, aerr
	}
	return jsonResponse(http.StatusOK, s.approvalView(a)), nil
}

// commentRequest is the optional body of approve, deny, cancel and close.
type commentRequest struct {
	Comment string `json:"comment,omitempty"`
}

func decodeComment(c *call) (string, *apiError) {
	var body commentRequest
	if strings.TrimSpace(c.req.Body) != "" {
		if aerr := decodeBody(c.req, &body); aerr != nil {
			return "", aerr
		}
	}
	if aerr := checkText("comment", body.Comment, false); aerr != nil {
		return "", aerr
	}
	return body.Comment, nil
}

// decideApproval answers POST /v1/approvals/{id}/approve and /deny: only
// an approver of the request's rule, never the requester (the same person:
// policy.Principal.Person, one trusted user through any of their roles);
// min_approvals distinct people approve it, one deny denies it.
func (s *Service) decideApproval(approve bool) routeFunc {
	return func(ctx context.Context, c *call) (Response, *apiError) {
		comment, aerr := decodeComment(c)
		if aerr != nil {
			return Response{}, aerr
		}
		p, a, aerr := s.loadApproval(ctx, c)
		if aerr != nil {
			return Response{}, aerr
		}
		switch {
		case requesterOf(a).Person() == c.caller.Person():
			return Response{}, fail(CodeForbidden, "nobody approves or denies their own request")
		case !p.CanApprove(a.Rule, requesterOf(a), *c.caller):
			return Response{}, fail(CodeForbidden, "you are not an approver of this request")
		}
		if aerr := s.notPending(ctx, c, a); aerr != nil {
			return Response{}, aerr
		}
		got, err := s.d.Store.DecideApproval(ctx, a.ID, store.Decision{Approver: c.caller.Identity(), Approve: approve, Comment: comment})
		switch {
		case errors.Is(err, store.ErrConflict):
			return Response{}, failCause(CodeConflict, err, "the request is no longer pending, or you have decided it already")
		case err != nil:
			return Response{}, failCause(CodeUnavailable, err, "the decision could not be recorded; try again later")
		}
		dec := "deny"
		if approve {
			dec = "approve"
		}
		c.decision = dec
		s.audit(ctx, c, Notification{Event: EventApprovalDecided, Principal: got.Principal, User: got.User, Profile: got.Profile,
			ApprovalID: got.ID, Status: string(got.Status), Decision: dec, Comment: comment, Justification: got.Justification})
		return jsonResponse(http.StatusOK, s.approvalView(got)), nil
	}
}

// notPending answers 409 for a request that cannot change any more, and
// reports an expiry the first time somebody acts on it.
func (s *Service) notPending(ctx context.Context, c *call, a store.ApprovalRequest) *apiError {
	switch a.Status {
	case store.ApprovalPending:
		return nil
	case store.ApprovalExpired:
		s.audit(ctx, c, Notification{Event: EventApprovalExpired, Principal: a.Principal, User: a.User, Profile: a.Profile,
			ApprovalID: a.ID, Status: string(a.Status), ExpiresAt: a.ExpiresAt})
	}
	return fail(CodeConflict, "the request is %s, not pending", a.Status)
}

// cancelApproval answers POST /v1/approvals/{id}/cancel: the requester
// only.
func (s *Service) cancelApproval(ctx context.Context, c *call) (Response, *apiError) {
	comment, aerr := decodeComment(c)
	if aerr != nil {
		return Response{}, aerr
	}
	_, a, aerr := s.loadApproval(ctx, c)
	if aerr != nil {
		return Response{}, aerr
	}
	if requesterOf(a).Person() != c.caller.Person() {
		return Response{}, fail(CodeForbidden, "only the requester cancels a request")
	}
	if aerr := s.count(ctx, c, a.Profile); aerr != nil {
		return Response{}, aerr
	}
	if aerr := s.notPending(ctx, c, a); aerr != nil {
		return Response{}, aerr
	}
	got, err := s.d.Store.CancelApproval(ctx, a.ID, c.caller.Identity())
	switch {
	case errors.Is(err, store.ErrConflict):
		return Response{}, failCause(CodeConflict, err, "the request is no longer pending")
	case err != nil:
		return Response{}, failCause(CodeUnavailable, err, "the cancellation could not be recorded; try again later")
	}
	s.audit(ctx, c, Notification{Event: EventApprovalCancelled, Principal: got.Principal, User: got.User, Profile: got.Profile,
		ApprovalID: got.ID, Status: string(got.Status), Comment: comment})
	return jsonResponse(http.StatusOK, s.approvalView(got)), nil
}
