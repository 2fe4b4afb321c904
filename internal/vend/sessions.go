package vend

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/revoke"
	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
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
	Client            string `json:"client,omitempty"`
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
		BreakGlassID: s.BreakGlassID, SourceIP: s.SourceIP, Client: s.Client, IssuedAt: rfc3339(s.IssuedAt), ExpiresAt: rfc3339(s.ExpiresAt),
		FailureReason: s.FailureReason, RevokedAt: rfc3339(s.RevokedAt), RevokedBy: s.RevokedBy, RevokeReason: s.RevokeReason,
		RevokeEnforcement: s.RevokeEnforcement,
	}
}

var principalQueryRE = regexp.MustCompile(`^arn:aws[a-z-]*:(iam|sts)::\d{12}:[\x21-\x7E]{1,512}$`)

// listSessions answers
// GET /v1/sessions[?profile=&principal=&active=true&limit=&next_token=]:
// the caller's own sessions; operators see everyone's and may filter by
// principal. Newest first, paged (paging.go).
func (s *Service) listSessions(ctx context.Context, c *call) (Response, *apiError) {
	active, aerr := boolQuery(c, "active")
	if aerr != nil {
		return Response{}, aerr
	}
	profile, byProfile := query(c, "profile")
	principal, byPrincipal := query(c, "principal")
	f := store.SessionFilter{Profile: profile, Principal: principal, ActiveOnly: active}
	if byProfile {
		if aerr := checkProfileName(f.Profile); aerr != nil {
			return Response{}, aerr
		}
	}
	if byPrincipal && !principalQueryRE.MatchString(f.Principal) {
		return Response{}, fail(CodeInvalidRequest, "principal must be a principal ARN")
	}
	pg, aerr := readPage(c, "sessions", profile, principal, strconv.FormatBool(active))
	if aerr != nil {
		return Response{}, aerr
	}
	p, aerr := s.loadPolicy(ctx, c)
	if aerr != nil {
		return Response{}, aerr
	}
	list := func(after store.Cursor, size int) ([]store.SessionRecord, error) {
		f.Before, f.Limit = after, size
		return s.d.Store.ListSessions(ctx, f)
	}
	if !p.IsOperator(*c.caller) {
		if f.Principal != "" && f.Principal != c.caller.ARN {
			return Response{}, fail(CodeForbidden, "only operators list other principals' sessions")
		}
		list = func(after store.Cursor, size int) ([]store.SessionRecord, error) {
			f.Before, f.Limit = after, size
			return s.d.Store.ListSessionsByPrincipal(ctx, c.caller.ARN, c.caller.User, f)
		}
	}
	sessions, err := collect(pg.limit+1, false, pg.after, list, sessionCursor, func(store.SessionRecord) bool { return true })
	if err != nil {
		return Response{}, failCause(CodeUnavailable, err, "sessions are unavailable; try again later")
	}
	body := map[string]any{}
	sessions = page(pg, sessions, sessionCursor, body)
	views := make([]sessionJSON, 0, len(sessions))
	for _, se := range sessions {
		views = append(views, sessionView(se))
	}
	body["sessions"] = views
	return jsonResponse(http.StatusOK, body), nil
}

func sessionCursor(s store.SessionRecord) store.Cursor {
	return store.Cursor{Time: s.IssuedAt, ID: s.ID}
}

// loadSession reads the session of the path; only its owner (the same
// person) and operators may see or revoke it. operator says whether the
// caller is an operator (settings.operators).
func (s *Service) loadSession(ctx context.Context, c *call) (se store.SessionRecord, operator bool, aerr *apiError) {
	id, aerr := pathID(c, "session")
	if aerr != nil {
		return store.SessionRecord{}, false, aerr
	}
	p, aerr := s.loadPolicy(ctx, c)
	if aerr != nil {
		return store.SessionRecord{}, false, aerr
	}
	se, err := s.d.Store.GetSession(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.SessionRecord{}, false, fail(CodeNotFound, "no such session")
	case err != nil:
		return store.SessionRecord{}, false, failCause(CodeUnavailable, err, "sessions are unavailable; try again later")
	}
	c.profile, c.sessionID = se.Profile, se.ID
	operator = p.IsOperator(*c.caller)
	if store.Person(store.Identity(se.Principal, se.User)) != c.caller.Person() && !operator {
		return store.SessionRecord{}, false, fail(CodeForbidden, "only the session's owner and operators see or revoke it")
	}
	return se, operator, nil
}

// getSession answers GET /v1/sessions/{id}.
func (s *Service) getSession(ctx context.Context, c *call) (Response, *apiError) {
	se, _, aerr := s.loadSession(ctx, c)
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
// or an operator. The deny is written in IAM first (through the revoker,
// holding the role's lease: see revokeUnderLease), then the record: a
// session reads as revoked only once IAM holds its deny, and a failed
// attempt can simply be repeated. An operator revoking a revoked session
// writes its deny again (a repair) and changes nothing else; the owner
// gets 409, without touching IAM, so every IAM round an owner causes needs
// a fresh active session (which the credentials route rate-limits). With
// block_minutes the person's re-vending of the profile is refused until
// then (403 session_revoked), checked inside the vend transaction.
func (s *Service) revokeSession(ctx context.Context, c *call) (Response, *apiError) {
	var body revokeRequest
	if aerr := decodeBody(c.req, &body); aerr != nil {
		return Response{}, aerr
	}
	if aerr := checkText("reason", body.Reason, true); aerr != nil {
		return Response{}, aerr
	}
	if body.BlockMinutes != nil && (*body.BlockMinutes < 1 || *body.BlockMinutes > MaxBlockMinutes) {
		return Response{}, fail(CodeInvalidRequest, "block_minutes must be from 1 to %d", MaxBlockMinutes)
	}
	se, operator, aerr := s.loadSession(ctx, c)
	if aerr != nil {
		return Response{}, aerr
	}
	if se.Status != store.SessionActive && se.Status != store.SessionRevoked {
		return Response{}, fail(CodeConflict, "the session is %s; there is nothing to revoke", se.Status)
	}
	if se.Status == store.SessionRevoked && !operator {
		return Response{}, fail(CodeConflict, "the session is already revoked; only an operator re-asserts its deny in IAM")
	}
	if s.d.Revoker == nil {
		return Response{}, fail(CodeUnavailable, "revocation is not configured (SENTINEL_REVOKER_FUNCTION)")
	}
	now := s.d.Now().UTC()
	if !se.ExpiresAt.After(now) {
		return Response{}, fail(CodeConflict, "the session has expired; there is nothing to revoke")
	}
	if !operator {
		if aerr := s.countOwnerRevocation(ctx, c); aerr != nil {
			return Response{}, aerr
		}
	}
	res, aerr := s.revokeUnderLease(ctx, c, revoke.Request{RoleARN: se.RoleARN, SessionID: se.ID, IssuedAt: se.IssuedAt, ExpiresAt: se.ExpiresAt})
	if aerr != nil {
		return Response{}, aerr
	}
	c.reason = body.Reason
	s.announceFallback(ctx, c, se, res)
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
	if res.CutoffWritten {
		out["warning"] = fallbackWarning(res)
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

// countOwnerRevocation counts a revocation of the caller's own session
// against their hourly limit (OwnerRevokeLimit): 429 when it is used up,
// before anything reaches IAM.
func (s *Service) countOwnerRevocation(ctx context.Context, c *call) *apiError {
	limit := s.cfg.OwnerRevokeLimit
	if limit <= 0 {
		limit = DefaultOwnerRevokeLimit
	}
	key := store.RateKey("REVOKE#" + c.caller.Person())
	err := s.d.Store.CountRequest(ctx, key, limit, OwnerRevokeWindow)
	return s.storeError(err, "the revocation could not be counted; nothing changed; try again later")
}

// fallbackWarning says what a revocation that wrote the role-wide cut-off
// did to everyone else.
func fallbackWarning(res revoke.Result) string {
	return "the role's revocation policy was full: every session of the role issued before " + rfc3339(res.TokenIssueCutoff) +
		" is now denied, not only this one; other callers of the role must ask for new credentials"
}

// announceFallback logs and notifies a revocation that had to write the
// role-wide token-issue-time cut-off (event revocation_fallback).
func (s *Service) announceFallback(ctx context.Context, c *call, se store.SessionRecord, res revoke.Result) {
	if !res.CutoffWritten {
		return
	}
	s.audit(ctx, c, Notification{Event: EventRevocationFallback, Principal: se.Principal, User: se.User, Profile: se.Profile,
		SessionID: se.ID, RoleARN: se.RoleARN, Enforcement: res.Enforcement, TokenIssueCutoff: res.TokenIssueCutoff,
		Comment: fallbackWarning(res)})
}

// Revocations of one role take turns. IAM has no conditional write, so two
// revokers rewriting one role's inline policy at once could drop a deny;
// the API function holds a lease on the role in the table (store.Leases)
// around its call to the revoker. Revocations of different roles run side
// by side; no one queues behind another role's.
const (
	// revokeLeaseTTL outlasts the longest function timeout (29 s), so the
	// lease of a function killed mid-revocation lapses soon after.
	revokeLeaseTTL = 30 * time.Second
	// revokeMargin is kept from the request's deadline, both for the wait
	// and for the revoker call, so the handler can always still answer
	// (503) and log instead of being killed.
	revokeMargin = 2 * time.Second
	// revokeMaxWait bounds the wait when the request has no deadline
	// (local mode).
	revokeMaxWait = 20 * time.Second
	// A held lease is tried again after 100 to 400 ms.
	leaseRetryMin    = 100 * time.Millisecond
	leaseRetryJitter = 300 * time.Millisecond
)

// RevokeLeaseName names the lease that serializes revocations of a role:
// the role as IAM's role-policy calls address it, its account and name, so
// one role under two ARN spellings (with and without its path) takes one
// lease. A value that is no role ARN names a lease of its own.
func RevokeLeaseName(roleARN string) string {
	if i, j := strings.Index(roleARN, ":role/"), strings.LastIndexByte(roleARN, '/'); i >= 0 && j >= i+len(":role") {
		return "revoke#" + roleARN[:i] + ":role/" + roleARN[j+1:]
	}
	return "revoke#" + roleARN
}

// revokeUnderLease takes the role's lease (waiting while another request
// holds it, until the request's deadline less revokeMargin), calls the
// revoker under a deadline that leaves the same margin and ends before the
// lease lapses, and releases the lease (unless that deadline cut the call
// short: the revoker function may still run, so the lease is left to
// lapse). Every failure is 503; without the lease there is no IAM write
// (fail closed).
func (s *Service) revokeUnderLease(ctx context.Context, c *call, req revoke.Request) (revoke.Result, *apiError) {
	deadline, hasDeadline := ctx.Deadline()
	waitUntil := time.Now().Add(revokeMaxWait)
	if hasDeadline {
		waitUntil = deadline.Add(-revokeMargin)
	}
	suffix, err := RandomID()
	if err != nil {
		return revoke.Result{}, failCause(CodeUnavailable, err, "the revocation could not be started; nothing changed; try again later")
	}
	// The request ID names the holder in the table; the suffix keeps two
	// requests apart even if their IDs repeat (a lease's owner may renew it).
	name, owner := RevokeLeaseName(req.RoleARN), c.requestID+"/"+suffix[:8]
	var acquired time.Time
	for waited := time.Duration(0); ; {
		if !time.Now().Before(waitUntil) {
			return revoke.Result{}, leaseTimeout(name, waited)
		}
		acquired = time.Now()
		now := s.d.Now()
		err := s.d.Store.AcquireLease(ctx, name, owner, now.Add(revokeLeaseTTL), now)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrConflict) {
			return revoke.Result{}, failCause(CodeUnavailable, err, "the revocation could not take its turn (the table is unavailable); nothing changed; try again later")
		}
		pause := leaseRetryMin + rand.N(leaseRetryJitter)
		if time.Now().Add(pause).After(waitUntil) {
			return revoke.Result{}, leaseTimeout(name, waited)
		}
		select {
		case <-ctx.Done():
			return revoke.Result{}, failCause(CodeUnavailable, ctx.Err(), "other revocations of this role are in progress; nothing changed; try again later")
		case <-time.After(pause):
			waited += pause
		}
	}
	until := acquired.Add(revokeLeaseTTL - revokeMargin)
	if hasDeadline && deadline.Add(-revokeMargin).Before(until) {
		until = deadline.Add(-revokeMargin)
	}
	rctx, cancel := context.WithDeadline(ctx, until)
	res, err := s.d.Revoker.Revoke(rctx, req)
	cutShort := rctx.Err() != nil
	cancel()
	if cutShort && err != nil {
		// The call was cut short, but the revoker function may still be
		// writing: keep the lease, which lapses after revokeLeaseTTL,
		// longer than the revoker can run (its timeout is at most 29 s).
		s.d.Log.Warn("revoke lease kept until it lapses: the revoker call was cut short", "request_id", c.requestID, "lease", name)
	} else {
		s.releaseLease(ctx, c, name, owner)
	}
	if err != nil {
		return revoke.Result{}, failCause(CodeUnavailable, err, "the revocation could not be written to IAM; nothing changed; try again later")
	}
	return res, nil
}

// releaseLease gives a lease back, best effort, on a context the
// request's end does not cancel: a lease left behind lapses by itself.
func (s *Service) releaseLease(ctx context.Context, c *call, name, owner string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revokeMargin/2)
	defer cancel()
	if err := s.d.Store.ReleaseLease(ctx, name, owner); err != nil {
		s.d.Log.Warn("revoke lease not released; it lapses by itself", "request_id", c.requestID, "lease", name,
			"cause", awsErrorCode(err), "error", shortError(err))
	}
}

// leaseTimeout is the answer when other revocations of the role held its
// lease for as long as this request could wait.
func leaseTimeout(name string, waited time.Duration) *apiError {
	return failCause(CodeUnavailable, fmt.Errorf("lease %s still held after waiting %s", name, waited.Round(time.Millisecond)),
		"other revocations of this role are in progress; nothing changed; try again later")
}
