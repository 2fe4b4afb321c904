package vend

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
	"github.com/sentinel-tvm/sentinel-tvm/internal/revoke"
	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
)

// breakGlassJSON is a break-glass event as the API shows it.
type breakGlassJSON struct {
	EventID         string `json:"event_id"`
	Status          string `json:"status"`
	Profile         string `json:"profile"`
	Principal       string `json:"principal"`
	User            string `json:"user,omitempty"`
	ReasonCode      string `json:"reason_code"`
	Justification   string `json:"justification"`
	DurationSeconds int    `json:"duration_seconds"`
	OpenedAt        string `json:"opened_at"`
	ExpiresAt       string `json:"expires_at"`
	ClosedAt        string `json:"closed_at,omitempty"`
	ClosedBy        string `json:"closed_by,omitempty"`
	CloseComment    string `json:"close_comment,omitempty"`
}

func breakGlassView(e store.BreakGlassEvent) breakGlassJSON {
	return breakGlassJSON{
		EventID: e.ID, Status: string(e.Status), Profile: e.Profile, Principal: e.Principal, User: e.User,
		ReasonCode: e.ReasonCode, Justification: e.Justification, DurationSeconds: e.DurationSeconds,
		OpenedAt: rfc3339(e.OpenedAt), ExpiresAt: rfc3339(e.ExpiresAt), ClosedAt: rfc3339(e.ClosedAt),
		ClosedBy: e.ClosedBy, CloseComment: e.CloseComment,
	}
}

// openBreakGlassRequest is the body of POST /v1/break-glass.
type openBreakGlassRequest struct {
	Profile         string `json:"profile"`
	ReasonCode      string `json:"reason_code"`
	Justification   string `json:"justification"`
	DurationSeconds *int64 `json:"duration_seconds,omitempty"`
}

// openBreakGlass answers POST /v1/break-glass: allowed only by a matching
// break_glass block (reason code in its list, justification at least its
// minimum length, duration at most its max_duration, default that
// maximum); one active event per person and profile. Never past an
// explicit deny rule, which break-glass could not override anyway.
func (s *Service) openBreakGlass(ctx context.Context, c *call) (Response, *apiError) {
	var body openBreakGlassRequest
	if aerr := decodeBody(c.req, &body); aerr != nil {
		return Response{}, aerr
	}
	c.profile = body.Profile
	if aerr := checkProfileName(body.Profile); aerr != nil {
		return Response{}, aerr
	}
	if aerr := checkText("justification", body.Justification, false); aerr != nil {
		return Response{}, aerr
	}
	p, aerr := s.loadPolicy(ctx, c)
	if aerr != nil {
		return Response{}, aerr
	}
	// Counted like a vend: every event notifies, so no flooding.
	if aerr := s.count(ctx, c, body.Profile); aerr != nil {
		return Response{}, aerr
	}
	bg, ok := p.BreakGlassFor(*c.caller, body.Profile)
	if !ok {
		return Response{}, fail(CodeForbidden, "no break_glass block lets you open an event for this profile")
	}
	c.rule = bg.Name
	if !slices.Contains(bg.ReasonCodes, body.ReasonCode) {
		return Response{}, fail(CodeInvalidRequest, "reason_code must be one of: %s", strings.Join(bg.ReasonCodes, ", "))
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(body.Justification)); n < max(bg.MinJustificationLength, 1) {
		return Response{}, fail(CodeInvalidRequest, "justification must be at least %d characters", max(bg.MinJustificationLength, 1))
	}
	maxDur := time.Duration(bg.MaxDuration) * time.Second
	if maxDur <= 0 || maxDur > policy.MaxSessionDuration {
		maxDur = policy.MaxSessionDuration
	}
	duration := maxDur
	if body.DurationSeconds != nil {
		secs := *body.DurationSeconds
		if secs < int64(minSTSDuration/time.Second) || secs > int64(maxDur/time.Second) {
			return Response{}, fail(CodeInvalidRequest, "duration_seconds must be from 900 to %d (the break_glass block's max_duration)", int64(maxDur/time.Second))
		}
		duration = time.Duration(secs) * time.Second
	}
	now := s.d.Now().UTC()
	preq := policy.Request{Principal: *c.caller, Profile: body.Profile, Time: now, SourceIP: c.sourceIP, Client: c.client}
	d := p.Evaluate(&preq)
	if d.Effect == policy.Deny && d.Rule != policy.DefaultDeny {
		c.recordDecision(p, &preq, d)
		return Response{}, fail(CodeForbidden, "rule %s denies this profile, and break-glass never overrides a deny rule", d.Rule)
	}
	id, err := s.d.NewID()
	if err != nil {
		return Response{}, failCause(CodeInternal, err, "internal error")
	}
	e, err := s.d.Store.OpenBreakGlass(ctx, store.BreakGlassEvent{
		ID: id, Principal: c.caller.ARN, User: c.caller.User, Profile: body.Profile, ReasonCode: body.ReasonCode,
		Justification: body.Justification, DurationSeconds: int(duration / time.Second), OpenedAt: now, ExpiresAt: now.Add(duration),
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		return Response{}, failCause(CodeConflict, err, "you already have an active break-glass event for this profile")
	case err != nil:
		return Response{}, failCause(CodeUnavailable, err, "the break-glass event could not be recorded; try again later")
	}
	s.audit(ctx, c, Notification{Event: EventBreakGlassOpened, Principal: e.Principal, User: e.User, Profile: e.Profile,
		EventID: e.ID, Status: string(e.Status), ReasonCode: e.ReasonCode, Justification: e.Justification, ExpiresAt: e.ExpiresAt})
	return jsonResponse(http.StatusCreated, breakGlassView(e)), nil
}

// listBreakGlass answers
// GET /v1/break-glass[?active=true&limit=&next_token=]: the caller's
// events; operators see everyone's. Newest first, paged (paging.go).
func (s *Service) listBreakGlass(ctx context.Context, c *call) (Response, *apiError) {
	active, aerr := boolQuery(c, "active")
	if aerr != nil {
		return Response{}, aerr
	}
	pg, aerr := readPage(c, "break-glass", strconv.FormatBool(active))
	if aerr != nil {
		return Response{}, aerr
	}
	p, aerr := s.loadPolicy(ctx, c)
	if aerr != nil {
		return Response{}, aerr
	}
	f := store.BreakGlassFilter{ActiveOnly: active}
	if !p.IsOperator(*c.caller) {
		// The store matches any user when User is empty; keep below
		// holds this person's events only.
		f.Principal, f.User = c.caller.ARN, c.caller.User
	}
	events, err := collect(pg.limit+1, false, pg.after, func(after store.Cursor, size int) ([]store.BreakGlassEvent, error) {
		f.Before, f.Limit = after, size
		return s.d.Store.ListBreakGlass(ctx, f)
	}, breakGlassCursor, func(e store.BreakGlassEvent) bool {
		return f.Principal == "" || (e.Principal == c.caller.ARN && e.User == c.caller.User)
	})
	if err != nil {
		return Response{}, failCause(CodeUnavailable, err, "break-glass events are unavailable; try again later")
	}
	body := map[string]any{}
	events = page(pg, events, breakGlassCursor, body)
	views := []breakGlassJSON{}
	for _, e := range events {
		views = append(views, breakGlassView(e))
	}
	body["events"] = views
	return jsonResponse(http.StatusOK, body), nil
}

func breakGlassCursor(e store.BreakGlassEvent) store.Cursor {
	return store.Cursor{Time: e.OpenedAt, ID: e.ID}
}

// boolQuery reads an optional true/false query parameter; absent is false.
func boolQuery(c *call, name string) (bool, *apiError) {
	v, ok := query(c, name)
	switch {
	case !ok, v == "false":
		return false, nil
	case v == "true":
		return true, nil
	}
	return false, fail(CodeInvalidRequest, "%s must be true or false", name)
}

// query returns a query parameter and whether the request has it. A
// parameter given with an empty value (?status=) is there, and so is
// checked like any other value rather than read as absent: every parameter
// has a set of valid values, and the empty string is in none of them.
func query(c *call, name string) (string, bool) {
	v, ok := c.req.QueryStringParameters[name]
	return v, ok
}

// closeBreakGlassRequest is the (optional) body of POST
// /v1/break-glass/{id}/close.
type closeBreakGlassRequest struct {
	Comment string `json:"comment"`
	// RevokeSessions revokes the active sessions the event vended, once
	// it is closed.
	RevokeSessions bool `json:"revoke_sessions"`
}

// closeBreakGlass answers POST /v1/break-glass/{id}/close: the event's
// owner or an operator. With revoke_sessions the sessions it vended are
// revoked after it is closed (no new one can be vended by then), each as
// POST /v1/sessions/{id}/revoke would.
func (s *Service) closeBreakGlass(ctx context.Context, c *call) (Response, *apiError) {
	id, aerr := pathID(c, "break-glass event")
	if aerr != nil {
		return Response{}, aerr
	}
	var body closeBreakGlassRequest
	if strings.TrimSpace(c.req.Body) != "" {
		if aerr := decodeBody(c.req, &body); aerr != nil {
			return Response{}, aerr
		}
	}
	if aerr := checkText("comment", body.Comment, false); aerr != nil {
		return Response{}, aerr
	}
	comment := body.Comment
	p, aerr := s.loadPolicy(ctx, c)
	if aerr != nil {
		return Response{}, aerr
	}
	e, err := s.d.Store.GetBreakGlass(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Response{}, fail(CodeNotFound, "no such break-glass event")
	case err != nil:
		return Response{}, failCause(CodeUnavailable, err, "break-glass events are unavailable; try again later")
	}
	c.profile = e.Profile
	operator := p.IsOperator(*c.caller)
	if store.Person(store.Identity(e.Principal, e.User)) != c.caller.Person() && !operator {
		return Response{}, fail(CodeForbidden, "only the event's owner and operators close it")
	}
	if body.RevokeSessions && s.d.Revoker == nil {
		return Response{}, fail(CodeUnavailable, "revocation is not configured (SENTINEL_REVOKER_FUNCTION); the event is still open")
	}
	if aerr := s.count(ctx, c, e.Profile); aerr != nil {
		return Response{}, aerr
	}
	got, err := s.d.Store.CloseBreakGlass(ctx, id, c.caller.Identity(), comment)
	switch {
	case errors.Is(err, store.ErrConflict):
		return Response{}, failCause(CodeConflict, err, "the event is %s, not active", e.Status)
	case err != nil:
		return Response{}, failCause(CodeUnavailable, err, "the break-glass event could not be closed; try again later")
	}
	s.audit(ctx, c, Notification{Event: EventBreakGlassClosed, Principal: got.Principal, User: got.User, Profile: got.Profile,
		EventID: got.ID, Status: string(got.Status), ReasonCode: got.ReasonCode, Comment: comment})
	if !body.RevokeSessions {
		return jsonResponse(http.StatusOK, breakGlassView(got)), nil
	}
	revoked, aerr := s.revokeEventSessions(ctx, c, got, operator, comment)
	if aerr != nil {
		return Response{}, aerr
	}
	return jsonResponse(http.StatusOK, closedBreakGlassJSON{breakGlassJSON: breakGlassView(got), RevokedSessions: revoked}), nil
}

// closedBreakGlassJSON is a closed event with the sessions revoked with it.
type closedBreakGlassJSON struct {
	breakGlassJSON
	RevokedSessions []string `json:"revoked_sessions"`
}

// revokeEventSessions revokes the active sessions the closed event vended.
// Any failure is 503 naming the sessions left to revoke one by one (the
// event stays closed either way).
func (s *Service) revokeEventSessions(ctx context.Context, c *call, e store.BreakGlassEvent, operator bool, comment string) ([]string, *apiError) {
	reason := "break-glass event " + e.ID + " closed"
	if comment != "" {
		reason += ": " + comment
	}
	sessions, err := s.d.Store.ListSessionsByPrincipal(ctx, e.Principal, e.User, store.SessionFilter{Profile: e.Profile, ActiveOnly: true, Limit: 1000})
	if err != nil {
		return nil, failCause(CodeUnavailable, err, "the event is closed, but its sessions could not be listed; revoke them with POST /v1/sessions/{id}/revoke")
	}
	revoked := []string{}
	var left []string
	var cause *apiError
	for _, se := range sessions {
		if se.BreakGlassID != e.ID || se.Status != store.SessionActive {
			continue
		}
		if cause != nil {
			left = append(left, se.ID)
			continue
		}
		if !operator {
			if cause = s.countOwnerRevocation(ctx, c); cause != nil {
				left = append(left, se.ID)
				continue
			}
		}
		res, aerr := s.revokeUnderLease(ctx, c, revoke.Request{RoleARN: se.RoleARN, SessionID: se.ID, IssuedAt: se.IssuedAt, ExpiresAt: se.ExpiresAt})
		if aerr != nil {
			cause = aerr
			left = append(left, se.ID)
			continue
		}
		s.announceFallback(ctx, c, se, res)
		got, err := s.d.Store.RevokeSession(ctx, se.ID, store.Revocation{By: c.caller.Identity(), Reason: reason, Enforcement: res.Enforcement})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			cause = failCause(CodeUnavailable, err, "a session is denied in IAM but its record could not be updated")
			left = append(left, se.ID)
			continue
		}
		if err == nil {
			se = got
		}
		revoked = append(revoked, se.ID)
		s.audit(ctx, c, Notification{Event: EventSessionRevoked, Principal: se.Principal, User: se.User, Profile: se.Profile,
			SessionID: se.ID, EventID: e.ID, Status: string(store.SessionRevoked), Comment: reason, Enforcement: res.Enforcement})
	}
	if cause != nil {
		out := *cause
		out.Message = fmt.Sprintf("the event is closed and %d of its sessions are revoked, but %s could not be revoked (%s); revoke them with POST /v1/sessions/{id}/revoke",
			len(revoked), strings.Join(left, ", "), cause.Message)
		return nil, &out
	}
	return revoked, nil
}
