package vend

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
)

// credentialsRequest is the body of POST /v1/credentials.
type credentialsRequest struct {
	Profile         string `json:"profile"`
	DurationSeconds *int64 `json:"duration_seconds,omitempty"`
	ApprovalID      string `json:"approval_id,omitempty"`
	Justification   string `json:"justification,omitempty"`
}

// Response formats of POST /v1/credentials.
const (
	FormatNative            = "native"
	FormatCredentialProcess = "credential_process"
	FormatContainer         = "container"
)

// STS bounds on DurationSeconds for AssumeRole.
const (
	minSTSDuration = 15 * time.Minute
	maxRequested   = 12 * time.Hour // the longest any AWS session can be; capped to policy later
)

var (
	idRE = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// credentials answers POST /v1/credentials: evaluate, then (allow only)
// scope, record and call STS. Every failure on the way returns no
// credentials.
func (s *Service) credentials(ctx context.Context, c *call) (Response, *apiError) {
	format, ok := query(c, "format")
	switch {
	case !ok:
		format = FormatNative
	case format == FormatNative, format == FormatCredentialProcess, format == FormatContainer:
	default:
		return Response{}, fail(CodeInvalidRequest, "format must be native, credential_process or container")
	}
	var body credentialsRequest
	if aerr := decodeBody(c.req, &body); aerr != nil {
		return Response{}, aerr
	}
	c.profile = body.Profile
	if aerr := checkProfileName(body.Profile); aerr != nil {
		return Response{}, aerr
	}
	var requested time.Duration
	if body.DurationSeconds != nil {
		// Compare seconds before converting: a huge value would overflow
		// time.Duration and could wrap into the valid range.
		secs := *body.DurationSeconds
		if secs < int64(minSTSDuration/time.Second) || secs > int64(maxRequested/time.Second) {
			return Response{}, fail(CodeInvalidRequest, "duration_seconds must be from 900 to 43200 (longer requests are capped by the policy)")
		}
		requested = time.Duration(secs) * time.Second
	}
	if body.ApprovalID != "" && !idRE.MatchString(body.ApprovalID) {
		return Response{}, fail(CodeInvalidRequest, "approval_id must be the 32-character ID of an approval request")
	}
	if aerr := checkText("justification", body.Justification, false); aerr != nil {
		return Response{}, aerr
	}

	p, aerr := s.loadPolicy(ctx, c)
	if aerr != nil {
		return Response{}, aerr
	}
	now := s.d.Now().UTC()
	preq := policy.Request{Principal: *c.caller, Profile: body.Profile, Time: now, SourceIP: c.sourceIP, Duration: requested, Client: c.client}
	d, approval, event, aerr := s.decide(ctx, p, &preq, body.ApprovalID)
	if aerr != nil {
		return Response{}, aerr
	}
	c.recordDecision(p, &preq, d)

	switch d.Effect {
	case policy.Deny:
		if aerr := s.count(ctx, c, body.Profile); aerr != nil {
			return Response{}, aerr
		}
		return Response{}, fail(CodePolicyDenied, "%s", d.Reason)
	case policy.RequireApproval:
		return Response{}, s.requireApproval(ctx, c, p, d, &body, &preq)
	}
	return s.vend(ctx, c, p, d, &preq, approval, event, format)
}

// decide evaluates the request, reading approval and break-glass state only
// when the first decision could change with it.
func (s *Service) decide(ctx context.Context, p *policy.Policy, preq *policy.Request, approvalID string) (policy.Decision, *store.ApprovalRequest, *store.BreakGlassEvent, *apiError) {
	d := p.Evaluate(preq)
	if d.Effect == policy.Allow || (d.Effect == policy.Deny && d.Rule != policy.DefaultDeny) {
		return d, nil, nil, nil
	}
	var approval *store.ApprovalRequest
	if d.Effect == policy.RequireApproval && approvalID != "" {
		a, err := s.d.Store.GetApproval(ctx, approvalID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return d, nil, nil, failCause(CodeUnavailable, err, "approval state is unavailable; try again later")
		default:
			if expires, ok := s.usableApproval(&a, preq, d.Rule); ok {
				approval = &a
				preq.Approval = &policy.Grant{Expires: expires}
			}
		}
	}
	var event *store.BreakGlassEvent
	if preq.Approval == nil {
		if _, covered := p.BreakGlassFor(preq.Principal, preq.Profile); covered {
			// A consistent read: an event closed a moment ago grants nothing.
			e, err := s.d.Store.ActiveBreakGlass(ctx, preq.Principal.ARN, preq.Principal.User, preq.Profile)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				return d, nil, nil, failCause(CodeUnavailable, err, "break-glass state is unavailable; try again later")
			case e.ExpiresAt.After(preq.Time):
				event = &e
				preq.BreakGlass = &policy.Grant{Expires: event.ExpiresAt}
			}
		}
	}
	if preq.Approval == nil && preq.BreakGlass == nil {
		return d, nil, nil, nil
	}
	d = p.Evaluate(preq)
	if d.Via != policy.ViaApproval {
		approval = nil
	}
	if d.Via != policy.ViaBreakGlass {
		event = nil
	}
	return d, approval, event, nil
}

// usableApproval reports whether an approval lets this vend happen: the
// caller's own, for this profile and rule, approved, unused, and within the
// window after approval. The grant lasts no longer than the window left or
// the duration that was approved.
func (s *Service) usableApproval(a *store.ApprovalRequest, preq *policy.Request, rule string) (time.Time, bool) {
	if a.Status != store.ApprovalApproved || a.Principal != preq.Principal.ARN || a.User != preq.Principal.User ||
		a.Profile != preq.Profile || a.Rule != rule || a.DecidedAt.IsZero() {
		return time.Time{}, false
	}
	expires := a.DecidedAt.Add(s.cfg.ApprovalWindow)
	if !a.ExpiresAt.IsZero() && a.ExpiresAt.Before(expires) {
		expires = a.ExpiresAt
	}
	if a.DurationSeconds > 0 {
		if byDuration := preq.Time.Add(time.Duration(a.DurationSeconds) * time.Second); byDuration.Before(expires) {
			expires = byDuration
		}
	}
	return expires, expires.After(preq.Time)
}

// rateKey is the caller's rate-limit counter: per person (one trusted user
// has one limit whichever trusted role they call through), or per person
// and profile when so configured.
func (s *Service) rateKey(c *call, profile string) store.RateKey {
	k := "RATE#" + c.caller.Person()
	if s.cfg.RatePerProfile {
		k += "#" + profile
	}
	return store.RateKey(k)
}

// count counts a request that vends nothing against the caller's limit.
func (s *Service) count(ctx context.Context, c *call, profile string) *apiError {
	err := s.d.Store.CountRequest(ctx, s.rateKey(c, profile), s.cfg.RateLimit, s.cfg.RateWindow)
	return s.storeError(err, "the request could not be recorded; try again later")
}

// storeError maps a data-layer error: a full rate-limit window is 429, any
// other failure 503.
func (s *Service) storeError(err error, message string) *apiError {
	if err == nil {
		return nil
	}
	var blocked *store.BlockedError
	if errors.As(err, &blocked) {
		return failCause(CodeSessionRevoked, err, "a revoked session blocks new sessions of this profile for you until %s", blocked.Until.UTC().Format(time.RFC3339))
	}
	var rl *store.RateLimitedError
	if errors.As(err, &rl) {
		secs := int(rl.RetryAfter / time.Second)
		if secs < 1 {
			secs = 1
		}
		return &apiError{Code: CodeRateLimited, Message: "too many requests; retry later", RetryAfter: secs, Cause: err}
	}
	return failCause(CodeUnavailable, err, "%s", message)
}

// requireApproval counts the request and creates (or reuses) the caller's
// pending approval request; the vend never waits for it.
func (s *Service) requireApproval(ctx context.Context, c *call, p *policy.Policy, d policy.Decision, body *credentialsRequest, preq *policy.Request) *apiError {
	if aerr := s.count(ctx, c, body.Profile); aerr != nil {
		return aerr
	}
	a, _, aerr := s.openApproval(ctx, c, p, d, preq, body.Justification)
	if aerr != nil {
		return aerr
	}
	return &apiError{Code: CodeApprovalRequired, Message: d.Reason + "; poll GET /v1/approvals/" + a.ID, ApprovalID: a.ID}
}

// vend scopes, records and issues the credentials of an allowed request.
func (s *Service) vend(ctx context.Context, c *call, p *policy.Policy, d policy.Decision, preq *policy.Request,
	approval *store.ApprovalRequest, event *store.BreakGlassEvent, format string) (Response, *apiError) {
	if d.Duration < policy.MinSessionDuration {
		reason := c.refuse(policy.Refusal(d, nil))
		if aerr := s.count(ctx, c, preq.Profile); aerr != nil {
			return Response{}, aerr
		}
		return Response{}, fail(CodePolicyDenied, "%s", reason)
	}
	scope, err := p.Render(d, preq)
	if err != nil {
		reason := c.refuse(policy.Refusal(d, err))
		if aerr := s.count(ctx, c, preq.Profile); aerr != nil {
			return Response{}, aerr
		}
		if errors.Is(err, policy.ErrUnsafeValue) || errors.Is(err, policy.ErrEmptyValue) {
			return Response{}, failCause(CodePolicyDenied, err, "%s", reason)
		}
		return Response{}, failCause(CodeInvalidRequest, err, "%s", reason)
	}
	sessionID, err := s.d.NewID()
	if err != nil {
		return Response{}, failCause(CodeInternal, err, "internal error")
	}
	c.sessionID, c.duration = sessionID, int64(d.Duration/time.Second)
	in, err := assumeRoleInput(d, preq, scope, sessionID)
	if err != nil {
		return Response{}, failCause(CodeInternal, err, "the session parameters break an STS limit")
	}
	rec := store.SessionRecord{
		ID: sessionID, Principal: preq.Principal.ARN, User: preq.Principal.User, CallerARN: preq.Principal.CallerARN,
		Profile: preq.Profile, RoleARN: d.RoleARN, SourceIdentity: aws.ToString(in.SourceIdentity), Rule: d.Rule, Via: d.Via,
		RequestID: c.requestID, SourceIP: c.req.RequestContext.Identity.SourceIP, Client: c.client,
		IssuedAt: preq.Time, ExpiresAt: preq.Time.Add(d.Duration),
	}
	if approval != nil {
		rec.ApprovalID = approval.ID
	}
	if event != nil {
		rec.BreakGlassID = event.ID
	}
	// One transaction: the rate-limit window, the session record, the
	// re-vending block check and, on an approval, its consumption.
	record := s.d.Store.Vend
	if approval != nil {
		record = s.d.Store.VendApproved
	}
	if err := record(ctx, s.rateKey(c, preq.Profile), s.cfg.RateLimit, s.cfg.RateWindow, rec); err != nil {
		if approval != nil && errors.Is(err, store.ErrConflict) {
			return Response{}, failCause(CodeConflict, err, "the approval was already used or is no longer valid")
		}
		if event != nil && errors.Is(err, store.ErrConflict) {
			return Response{}, failCause(CodeConflict, err, "the break-glass event was closed or expired; no credentials were issued")
		}
		return Response{}, s.storeError(err, "the session could not be recorded; try again later")
	}
	out, err := s.d.STS.AssumeRole(ctx, in)
	if err != nil || out.Credentials == nil {
		if err == nil {
			err = errors.New("sts AssumeRole returned no credentials")
		}
		code := awsErrorCode(err)
		s.markFailed(ctx, sessionID, "sts: "+code)
		if stsConfigError(code) {
			return Response{}, failCause(CodeInternal, err, "credentials could not be issued (a configuration problem; the operators have the details)")
		}
		return Response{}, failCause(CodeUnavailable, err, "credentials could not be issued; try again later")
	}
	return credentialsResponse(format, d, preq, rec, out), nil
}

// markFailed records, best effort, that a recorded session got no
// credentials; the answer is already a failure either way.
func (s *Service) markFailed(ctx context.Context, id, reason string) {
	if err := s.d.Store.MarkSessionFailed(context.WithoutCancel(ctx), id, reason); err != nil {
		s.d.Log.Warn("mark session failed", "session_id", id, "cause", err.Error())
	}
}

type nativeCredentials struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	SessionToken    string `json:"SessionToken"`
	Expiration      string `json:"Expiration"`
}

func credentialsResponse(format string, d policy.Decision, preq *policy.Request, rec store.SessionRecord, out *sts.AssumeRoleOutput) Response {
	cr := out.Credentials
	expiration := rec.ExpiresAt
	if cr.Expiration != nil {
		expiration = cr.Expiration.UTC()
	}
	exp := expiration.Format(time.RFC3339)
	switch format {
	case FormatCredentialProcess:
		return jsonResponse(http.StatusOK, map[string]any{
			"Version": 1, "AccessKeyId": aws.ToString(cr.AccessKeyId), "SecretAccessKey": aws.ToString(cr.SecretAccessKey),
			"SessionToken": aws.ToString(cr.SessionToken), "Expiration": exp,
		})
	case FormatContainer:
		return jsonResponse(http.StatusOK, map[string]any{
			"AccessKeyId": aws.ToString(cr.AccessKeyId), "SecretAccessKey": aws.ToString(cr.SecretAccessKey),
			"Token": aws.ToString(cr.SessionToken), "Expiration": exp,
		})
	}
	return jsonResponse(http.StatusOK, map[string]any{
		"session_id":       rec.ID,
		"profile":          rec.Profile,
		"role_arn":         rec.RoleARN,
		"source_identity":  rec.SourceIdentity,
		"expires_at":       exp,
		"duration_seconds": int64(d.Duration / time.Second),
		"capped":           d.Capped,
		"decision":         map[string]string{"rule": d.Rule, "via": d.Via},
		"credentials": nativeCredentials{
			AccessKeyID: aws.ToString(cr.AccessKeyId), SecretAccessKey: aws.ToString(cr.SecretAccessKey),
			SessionToken: aws.ToString(cr.SessionToken), Expiration: exp,
		},
	})
}
