package vend

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sentinel-tvm/sentinel-tvm/lambda/policy"
	"github.com/sentinel-tvm/sentinel-tvm/lambda/revoke"
	"github.com/sentinel-tvm/sentinel-tvm/lambda/store"
)

// Revoker enforces a revocation in IAM: revoke.Invoker (the revoker
// function) in production, *revoke.Revoker in-process in local mode.
type Revoker interface {
	Revoke(ctx context.Context, req revoke.Request) (revoke.Result, error)
}

var (
	_ Revoker = (*revoke.Invoker)(nil)
	_ Revoker = (*revoke.Revoker)(nil)
)

// MaxBlockMinutes bounds block_minutes: a day.
const MaxBlockMinutes = 24 * 60

// sessionJSON is a session as the API shows it.
type sessionJSON struct {
	SessionID         string `json:"session_id"`
	Principal         string `json:"principal"`
	User              string `json:"user,omitempty"`
	CallerARN         string `json:"caller_arn,omitempty"`
	Profile           string `json:"profile"`
	RoleARN           string `json:"role_arn"`
	SourceIdentity    string `json:"source_identity"`
	Status            string `json:"status"`
	Rule              string `json:"rule"`
	Via               string `json:"via"`
	ApprovalID        string `json:"approval_id,omitempty"`
	BreakGlassID      string `json:"break_glass_id,omitempty"`
	SourceIP          string `json:"source_ip,omitempty"`
	IssuedAt          string `json:"issued_at"`
	ExpiresAt         string `json:"expires_at"`
	FailureReason     string `json:"failure_reason,omitempty"`
	RevokedAt         string `json:"revoked_at,omitempty"`
	RevokedBy         string `json:"revoked_by,omitempty"`
	RevokeReason      string `json:"revoke_reason,omitempty"`
	RevokeEnforcement string `json:"enforcement,omitempty"`
}

func sessionView(s store.SessionRecord) sessionJSON {
	return sessionJSON{
		SessionID: s.ID, Principal: s.Principal, User: s.User, CallerARN: s.CallerARN, Profile: s.Profile, RoleARN: s.RoleARN,
		SourceIdentity: s.SourceIdentity, Status: string(s.Status), Rule: s.Rule, Via: s.Via, ApprovalID: s.ApprovalID,
		BreakGlassID: s.BreakGlassID, SourceIP: s.SourceIP, IssuedAt: rfc3339(s.IssuedAt), ExpiresAt: rfc3339(s.ExpiresAt),
		FailureReason: s.FailureReason, RevokedAt: rfc3339(s.RevokedAt), RevokedBy: s.RevokedBy, RevokeReason: s.RevokeReason,
		RevokeEnforcement: s.RevokeEnforcement,
	}
}

var principalQueryRE = regexp.MustCompile(`^arn:aws[a-z-]*:(iam|sts)::\d{12}:[\x21-\x7E]{1,512}$`)

// listSessions answers GET /v1/sessions[?profile=&principal=&active=true]:
// the caller's own sessions; operators see everyone's and may filter by
// principal.
func (s *Service) listSessions(ctx context.Context, c *call) (Response, *apiError) {
	active, aerr := boolQuery(c, "active")
	if aerr != nil {
		return Response{}, aerr
	}
	profile, byProfile := query(c, "profile")
	principal, byPrincipal := query(c, "principal")
	f := store.SessionFilter{Profile: profile, Principal: principal, ActiveOnly: active}
	if byProfile && !policy.IsProfileName(f.Profile) {
		return Response{}, fail(CodeInvalidRequest, "profile must be a profile name (1-64 letters, digits, '.', '_' or '-')")
	}
	if byPrincipal && !principalQueryRE.MatchString(f.Principal) {
		return Response{}, fail(CodeInvalidRequest, "principal must be a principal ARN")
	}
	p, aerr := s.loadPolicy(ctx, c)
	if aerr != nil {
		return Response{}, aerr
	}
	var (
		sessions []store.SessionRecord
		err      error
	)
	if p.IsOperator(*c.caller) {
		sessions, err = s.d.Store.ListSessions(ctx, f)
	} else {
		if f.Principal != "" && f.Principal != c.caller.ARN {
			return Response{}, fail(CodeForbidden, "only operators list other principals' sessions")
		}
		sessions, err = s.d.Store.ListSessionsByPrincipal(ctx, c.caller.ARN, c.caller.User, f)
	}
	if err != nil {
		return Response{}, failCause(CodeUnavailable, err, "sessions are unavailable; try again later")
	}
	views := make([]sessionJSON, 0, len(sessions))
	for _, se := range sessions {
		views = append(views, sessionView(se))
	}
	return jsonResponse(http.StatusOK, map[string]any{"sessions": views}), nil
}

// loadSession reads the session of the path; only its owner (the same
// person) and operators may see or revoke it.
func (s *Service) loadSession(ctx context.Context, c *call) (store.SessionRecord, *apiError) {
	id, aerr := pathID(c, "session")
	if aerr != nil {
		return store.SessionRecord{}, aerr
	}
	p, aerr := s.loadPolicy(ctx, c)
	if aerr != nil {
		return store.SessionRecord{}, aerr
	}
	se, err := s.d.Store.GetSession(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.SessionRecord{}, fail(CodeNotFound, "no such session")
	case err != nil:
		return store.SessionRecord{}, failCause(CodeUnavailable, err, "sessions are unavailable; try again later")
	}
	c.profile, c.sessionID = se.Profile, se.ID
	if store.Identity(se.Principal, se.User) != c.caller.Identity() && !p.IsOperator(*c.caller) {
		return store.SessionRecord{}, fail(CodeForbidden, "only the session's owner and operators see or revoke it")
	}
	return se, nil
}

// getSession answers GET /v1/sessions/{id}.
func (s *Service) getSession(ctx context.Context, c *call) (Response, *apiError) {
	se, aerr := s.loadSession(ctx, c)
	if aerr != nil {
		return Response{}, aerr
	}
	return jsonResponse(http.StatusOK, sessionView(se)), nil
}

// revokeRequest is the body of POST /v1/sessions/{id}/revoke.
type revokeRequest struct {
	Reason       string `json:"reason"`
	BlockMinutes *int   `json:"block_minutes,omitempty"`
}

// revokeSession answers POST /v1/sessions/{id}/revoke: the session's owner
// or an operator. The deny is written in IAM first (through the revoker),
// then the record: a session reads as revoked only once IAM holds its deny,
// and a failed attempt can simply be repeated. Revoking a revoked session
// writes its deny again (a repair) and changes nothing else. With
// block_minutes the person's re-vending of the profile is refused until
// then (403 session_revoked), checked inside the vend transaction.
func (s *Service) revokeSession(ctx context.Context, c *call) (Response, *apiError) {
	var body revokeRequest
	if aerr := decodeBody(c.req, &body); aerr != nil {
		return Response{}, aerr
	}
	if strings.TrimSpace(body.Reason) == "" || utf8.RuneCountInString(body.Reason) > 1024 {
		return Response{}, fail(CodeInvalidRequest, "reason is required, at most 1024 characters")
	}
	if body.BlockMinutes != nil && (*body.BlockMinutes < 1 || *body.BlockMinutes > MaxBlockMinutes) {
		return Response{}, fail(CodeInvalidRequest, "block_minutes must be from 1 to %d", MaxBlockMinutes)
	}
	se, aerr := s.loadSession(ctx, c)
	if aerr != nil {
		return Response{}, aerr
	}
	if se.Status != store.SessionActive && se.Status != store.SessionRevoked {
		return Response{}, fail(CodeConflict, "the session is %s; there is nothing to revoke", se.Status)
	}
	if s.d.Revoker == nil {
		return Response{}, fail(CodeUnavailable, "revocation is not configured (SENTINEL_REVOKER_FUNCTION)")
	}
	now := s.d.Now().UTC()
	if !se.ExpiresAt.After(now) {
		return Response{}, fail(CodeConflict, "the session has expired; there is nothing to revoke")
	}
	res, err := s.d.Revoker.Revoke(ctx, revoke.Request{RoleARN: se.RoleARN, SessionID: se.ID, IssuedAt: se.IssuedAt, ExpiresAt: se.ExpiresAt})
	if err != nil {
		return Response{}, failCause(CodeUnavailable, err, "the revocation could not be written to IAM; nothing changed; try again later")
	}
	c.reason = body.Reason
	if se.Status == store.SessionActive {
		got, err := s.d.Store.RevokeSession(ctx, se.ID, store.Revocation{By: c.caller.Identity(), Reason: body.Reason, Enforcement: res.Enforcement})
		switch {
		case err == nil:
			se = got
		case errors.Is(err, store.ErrConflict):
			// Revoked meanwhile by someone else, or expired: IAM holds
			// the deny either way.
			if se, err = s.d.Store.GetSession(ctx, se.ID); err != nil {
				return Response{}, failCause(CodeUnavailable, err, "the session is denied in IAM but its record could not be read; try again")
			}
		default:
			return Response{}, failCause(CodeUnavailable, err, "the session is denied in IAM but its record could not be updated; try again")
		}
	}
	out := map[string]any{"session_id": se.ID, "status": string(se.Status), "enforcement": res.Enforcement}
	if !res.TokenIssueCutoff.IsZero() {
		out["token_issue_cutoff"] = rfc3339(res.TokenIssueCutoff)
	}
	n := Notification{Event: EventSessionRevoked, Principal: se.Principal, User: se.User, Profile: se.Profile,
		SessionID: se.ID, Status: string(se.Status), Comment: body.Reason, Enforcement: res.Enforcement}
	if body.BlockMinutes != nil {
		until := now.Add(time.Duration(*body.BlockMinutes) * time.Minute)
		err := s.d.Store.BlockVending(ctx, store.Block{Principal: se.Principal, User: se.User, Profile: se.Profile, Until: until,
			By: c.caller.Identity(), Reason: body.Reason, SessionID: se.ID})
		if err != nil {
			s.audit(ctx, c, n)
			return Response{}, failCause(CodeUnavailable, err, "the session is revoked, but the block could not be recorded; repeat the request")
		}
		out["blocked_until"] = rfc3339(until)
		n.BlockedUntil = until
	}
	s.audit(ctx, c, n)
	return jsonResponse(http.StatusOK, out), nil
}
