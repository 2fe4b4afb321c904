package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Format is the response format of POST /v1/credentials.
type Format string

// Formats of POST /v1/credentials.
const (
	FormatNative            Format = "native"
	FormatCredentialProcess Format = "credential_process" // the AWS CLI / SDK credential_process contract
	FormatContainer         Format = "container"          // the SDK container-credentials contract
)

// CredentialsRequest is the body of POST /v1/credentials.
type CredentialsRequest struct {
	Profile         string `json:"profile"`
	DurationSeconds int64  `json:"duration_seconds,omitempty"` // 0: the policy's default
	ApprovalID      string `json:"approval_id,omitempty"`      // an approved request of the caller
	Justification   string `json:"justification,omitempty"`
}

// SessionCredentials are the vended AWS credentials.
type SessionCredentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

// Decision says why a vend was allowed.
type Decision struct {
	Rule string `json:"rule"`
	Via  string `json:"via"` // policy, approval or break_glass
}

// CredentialsResponse is a 200 answer of POST /v1/credentials. Credentials
// and Body are set for every format; the session fields for native only.
type CredentialsResponse struct {
	Format          Format
	SessionID       string
	Profile         string
	RoleARN         string
	SourceIdentity  string
	ExpiresAt       time.Time
	DurationSeconds int64
	Capped          bool
	Decision        Decision
	Credentials     SessionCredentials
	// Body is the answer as the service sent it (it holds the secret key).
	Body json.RawMessage
}

// AWS returns the credentials as aws.Credentials that expire.
func (r *CredentialsResponse) AWS() aws.Credentials {
	return aws.Credentials{
		AccessKeyID: r.Credentials.AccessKeyID, SecretAccessKey: r.Credentials.SecretAccessKey,
		SessionToken: r.Credentials.SessionToken, Source: ProviderName,
		CanExpire: true, Expires: r.Credentials.Expiration,
	}
}

// Credentials vends credentials for a profile: POST /v1/credentials?format=.
// A refusal is an *Error (policy_denied, approval_required with ApprovalID,
// rate_limited with RetryAfter, ...). It is never retried.
func (c *Client) Credentials(ctx context.Context, req CredentialsRequest, format Format, opts ...CallOption) (*CredentialsResponse, error) {
	if format == "" {
		format = FormatNative
	}
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodPost, "/v1/credentials", url.Values{"format": {string(format)}}, req, &raw, opts...); err != nil {
		return nil, err
	}
	out := &CredentialsResponse{Format: format, Body: raw}
	var err error
	switch format {
	case FormatNative:
		var b struct {
			SessionID       string    `json:"session_id"`
			Profile         string    `json:"profile"`
			RoleARN         string    `json:"role_arn"`
			SourceIdentity  string    `json:"source_identity"`
			ExpiresAt       time.Time `json:"expires_at"`
			DurationSeconds int64     `json:"duration_seconds"`
			Capped          bool      `json:"capped"`
			Decision        Decision  `json:"decision"`
			Credentials     struct {
				AccessKeyID     string    `json:"AccessKeyId"`
				SecretAccessKey string    `json:"SecretAccessKey"`
				SessionToken    string    `json:"SessionToken"`
				Expiration      time.Time `json:"Expiration"`
			} `json:"credentials"`
		}
		if err = json.Unmarshal(raw, &b); err == nil {
			out.SessionID, out.Profile, out.RoleARN, out.SourceIdentity = b.SessionID, b.Profile, b.RoleARN, b.SourceIdentity
			out.ExpiresAt, out.DurationSeconds, out.Capped, out.Decision = b.ExpiresAt, b.DurationSeconds, b.Capped, b.Decision
			out.Credentials = SessionCredentials(b.Credentials)
		}
	case FormatCredentialProcess:
		var b struct {
			Version         int       `json:"Version"`
			AccessKeyID     string    `json:"AccessKeyId"`
			SecretAccessKey string    `json:"SecretAccessKey"`
			SessionToken    string    `json:"SessionToken"`
			Expiration      time.Time `json:"Expiration"`
		}
		if err = json.Unmarshal(raw, &b); err == nil {
			if b.Version != 1 {
				err = fmt.Errorf("Version is %d, want 1", b.Version)
			}
			out.Credentials = SessionCredentials{b.AccessKeyID, b.SecretAccessKey, b.SessionToken, b.Expiration}
		}
	case FormatContainer:
		var b struct {
			AccessKeyID     string    `json:"AccessKeyId"`
			SecretAccessKey string    `json:"SecretAccessKey"`
			Token           string    `json:"Token"`
			Expiration      time.Time `json:"Expiration"`
		}
		if err = json.Unmarshal(raw, &b); err == nil {
			out.Credentials = SessionCredentials{b.AccessKeyID, b.SecretAccessKey, b.Token, b.Expiration}
		}
	default:
		return nil, fmt.Errorf("client: unknown credentials format %q", format)
	}
	if err == nil && (out.Credentials.AccessKeyID == "" || out.Credentials.SecretAccessKey == "" || out.Credentials.Expiration.IsZero()) {
		err = fmt.Errorf("credentials, secret key or expiration missing")
	}
	if err != nil {
		return nil, fmt.Errorf("client: the credentials answer is malformed: %v", redactJSONError(err))
	}
	return out, nil
}

// redactJSONError keeps a decoding error free of the answer's values.
func redactJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q must be %s", te.Field, te.Type)
	}
	var pe *time.ParseError
	if errors.As(err, &pe) {
		return "a time is not RFC 3339"
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	return err.Error()
}

// Profile is one entry of GET /v1/profiles.
type Profile struct {
	Name            string `json:"name"`
	Description     string `json:"description,omitempty"`
	RoleARN         string `json:"role_arn"`
	Access          string `json:"access"` // allow, require_approval or break_glass
	Rule            string `json:"rule"`
	DurationSeconds int64  `json:"duration_seconds,omitempty"`
	// Break-glass only: the reason codes accepted and the shortest
	// justification (characters after trimming).
	ReasonCodes            []string `json:"reason_codes,omitempty"`
	MinJustificationLength int      `json:"min_justification_length,omitempty"`
}

// Access values of Profile.
const (
	AccessAllow           = "allow"
	AccessRequireApproval = "require_approval"
	AccessBreakGlass      = "break_glass"
)

// Profiles lists the profiles the caller may request: GET /v1/profiles.
func (c *Client) Profiles(ctx context.Context) ([]Profile, error) {
	return list[Profile](ctx, c, "profiles", "/v1/profiles", nil)
}

// Health is the answer of GET /v1/health.
type Health struct {
	Status       string `json:"status"`
	PolicySHA256 string `json:"policy_sha256"`
	Version      string `json:"version"`
}

// Health checks the service: GET /v1/health.
func (c *Client) Health(ctx context.Context) (*Health, error) {
	return doCall[Health](ctx, c, http.MethodGet, "/v1/health", nil, nil)
}

// Approval statuses.
const (
	ApprovalPending   = "pending"
	ApprovalApproved  = "approved"
	ApprovalDenied    = "denied"
	ApprovalCancelled = "cancelled"
	ApprovalExpired   = "expired"
	ApprovalUsed      = "used"
)

// ApprovalDecision is one approver's answer.
type ApprovalDecision struct {
	Approver string    `json:"approver"`
	Decision string    `json:"decision"` // approve or deny
	Comment  string    `json:"comment,omitempty"`
	At       time.Time `json:"at"`
}

// Approval is an approval request.
type Approval struct {
	ApprovalID      string             `json:"approval_id"`
	Status          string             `json:"status"`
	Profile         string             `json:"profile"`
	Requester       string             `json:"requester"`                // the requester's principal (an IAM role for a role session)
	RequesterUser   string             `json:"requester_user,omitempty"` // the trusted user of an SSO role session
	Rule            string             `json:"rule,omitempty"`
	Justification   string             `json:"justification,omitempty"`
	DurationSeconds int64              `json:"duration_seconds,omitempty"`
	MinApprovals    int                `json:"min_approvals,omitempty"`
	CreatedAt       time.Time          `json:"created_at,omitzero"`
	ExpiresAt       time.Time          `json:"expires_at,omitzero"`
	DecidedAt       time.Time          `json:"decided_at,omitzero"`
	UsableUntil     time.Time          `json:"usable_until,omitzero"` // approved: vend before this
	Decisions       []ApprovalDecision `json:"decisions,omitempty"`
	SessionID       string             `json:"session_id,omitempty"` // used: the session it was used for
}

// Decided reports whether the approval left pending for good.
func (a *Approval) Decided() bool { return a.Status != ApprovalPending }

// CreateApprovalRequest is the body of POST /v1/approvals.
type CreateApprovalRequest struct {
	Profile         string `json:"profile"`
	Justification   string `json:"justification"`
	DurationSeconds int64  `json:"duration_seconds,omitempty"`
}

// CreateApproval asks for approval: POST /v1/approvals.
func (c *Client) CreateApproval(ctx context.Context, req CreateApprovalRequest, opts ...CallOption) (*Approval, error) {
	return doCall[Approval](ctx, c, http.MethodPost, "/v1/approvals", nil, req, opts...)
}

// ListApprovals lists approval requests the caller may see, optionally in
// one status: GET /v1/approvals[?status=].
// It answers the first page (at most MaxPageLimit); ListApprovalsPage and
// AllApprovals read the others.
func (c *Client) ListApprovals(ctx context.Context, status string) ([]Approval, error) {
	return list[Approval](ctx, c, "approvals", "/v1/approvals", approvalQuery(status))
}

func approvalQuery(status string) url.Values {
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	return q
}

// GetApproval reads one approval request: GET /v1/approvals/{id}.
func (c *Client) GetApproval(ctx context.Context, id string) (*Approval, error) {
	return doCall[Approval](ctx, c, http.MethodGet, "/v1/approvals/"+url.PathEscape(id), nil, nil)
}

// Comment is the body of the approve, deny, cancel and close calls.
type Comment struct {
	Comment string `json:"comment,omitempty"`
}

func (c *Client) approvalAction(ctx context.Context, id, action, comment string, opts []CallOption) (*Approval, error) {
	return doCall[Approval](ctx, c, http.MethodPost, "/v1/approvals/"+url.PathEscape(id)+"/"+action, nil, Comment{comment}, opts...)
}

// Approve approves someone else's request: POST /v1/approvals/{id}/approve.
func (c *Client) Approve(ctx context.Context, id, comment string, opts ...CallOption) (*Approval, error) {
	return c.approvalAction(ctx, id, "approve", comment, opts)
}

// Deny denies someone else's request: POST /v1/approvals/{id}/deny.
func (c *Client) Deny(ctx context.Context, id, comment string, opts ...CallOption) (*Approval, error) {
	return c.approvalAction(ctx, id, "deny", comment, opts)
}

// Cancel cancels the caller's own pending request: POST /v1/approvals/{id}/cancel.
func (c *Client) Cancel(ctx context.Context, id, comment string, opts ...CallOption) (*Approval, error) {
	return c.approvalAction(ctx, id, "cancel", comment, opts)
}

// BreakGlassRequest is the body of POST /v1/break-glass.
type BreakGlassRequest struct {
	Profile         string `json:"profile"`
	ReasonCode      string `json:"reason_code"`
	Justification   string `json:"justification"`
	DurationSeconds int64  `json:"duration_seconds,omitempty"`
}

// BreakGlassEvent is an emergency access window.
type BreakGlassEvent struct {
	EventID         string    `json:"event_id"`
	Status          string    `json:"status"` // active, expired or closed
	Profile         string    `json:"profile,omitempty"`
	Principal       string    `json:"principal,omitempty"`
	ReasonCode      string    `json:"reason_code,omitempty"`
	Justification   string    `json:"justification,omitempty"`
	DurationSeconds int64     `json:"duration_seconds,omitempty"`
	OpenedAt        time.Time `json:"opened_at,omitzero"`
	ExpiresAt       time.Time `json:"expires_at,omitzero"`
	ClosedAt        time.Time `json:"closed_at,omitzero"`
	ClosedBy        string    `json:"closed_by,omitempty"`
	CloseComment    string    `json:"close_comment,omitempty"`
	// RevokedSessions are the sessions revoked with the event (a close
	// with RevokeSessions).
	RevokedSessions []string `json:"revoked_sessions,omitempty"`
}

// OpenBreakGlass opens an emergency access window: POST /v1/break-glass.
func (c *Client) OpenBreakGlass(ctx context.Context, req BreakGlassRequest, opts ...CallOption) (*BreakGlassEvent, error) {
	return doCall[BreakGlassEvent](ctx, c, http.MethodPost, "/v1/break-glass", nil, req, opts...)
}

// ListBreakGlass lists break-glass events: GET /v1/break-glass[?active=true].
// It answers the first page (at most MaxPageLimit); ListBreakGlassPage and
// AllBreakGlass read the others.
func (c *Client) ListBreakGlass(ctx context.Context, activeOnly bool) ([]BreakGlassEvent, error) {
	return list[BreakGlassEvent](ctx, c, "events", "/v1/break-glass", breakGlassQuery(activeOnly))
}

func breakGlassQuery(activeOnly bool) url.Values {
	q := url.Values{}
	if activeOnly {
		q.Set("active", "true")
	}
	return q
}

// CloseBreakGlassRequest is the body of POST /v1/break-glass/{id}/close.
type CloseBreakGlassRequest struct {
	Comment string `json:"comment,omitempty"`
	// RevokeSessions also revokes the active sessions the event vended,
	// once it is closed.
	RevokeSessions bool `json:"revoke_sessions,omitempty"`
}

// CloseBreakGlass closes an event: POST /v1/break-glass/{id}/close.
func (c *Client) CloseBreakGlass(ctx context.Context, id, comment string, opts ...CallOption) (*BreakGlassEvent, error) {
	return c.CloseBreakGlassWith(ctx, id, CloseBreakGlassRequest{Comment: comment}, opts...)
}

// CloseBreakGlassWith closes an event with the full request body, e.g. to
// revoke the sessions it vended: POST /v1/break-glass/{id}/close.
func (c *Client) CloseBreakGlassWith(ctx context.Context, id string, req CloseBreakGlassRequest, opts ...CallOption) (*BreakGlassEvent, error) {
	return doCall[BreakGlassEvent](ctx, c, http.MethodPost, "/v1/break-glass/"+url.PathEscape(id)+"/close", nil, req, opts...)
}

// Session is a vended session's record.
type Session struct {
	SessionID      string    `json:"session_id"`
	Principal      string    `json:"principal"`
	User           string    `json:"user,omitempty"` // the person (SSO user name or IAM user), when known
	CallerARN      string    `json:"caller_arn,omitempty"`
	Profile        string    `json:"profile"`
	Status         string    `json:"status"` // active, expired, revoked or failed
	Rule           string    `json:"rule,omitempty"`
	RoleARN        string    `json:"role_arn,omitempty"`
	SourceIdentity string    `json:"source_identity,omitempty"`
	Via            string    `json:"via,omitempty"`
	ApprovalID     string    `json:"approval_id,omitempty"`
	BreakGlassID   string    `json:"break_glass_id,omitempty"`
	IssuedAt       time.Time `json:"issued_at,omitzero"`
	ExpiresAt      time.Time `json:"expires_at,omitzero"`
	RevokedAt      time.Time `json:"revoked_at,omitzero"`
	RevokedBy      string    `json:"revoked_by,omitempty"`
	RevokeReason   string    `json:"revoke_reason,omitempty"`
	Enforcement    string    `json:"enforcement,omitempty"`
}

// SessionFilter narrows ListSessions; zero values do not filter.
type SessionFilter struct {
	Profile    string
	Principal  string // operators only
	ActiveOnly bool
}

// ListSessions lists sessions: GET /v1/sessions[?profile=&principal=&active=true].
// It answers the first page (at most MaxPageLimit); ListSessionsPage and
// AllSessions read the others.
func (c *Client) ListSessions(ctx context.Context, f SessionFilter) ([]Session, error) {
	return list[Session](ctx, c, "sessions", "/v1/sessions", f.query())
}

func (f SessionFilter) query() url.Values {
	q := url.Values{}
	if f.Profile != "" {
		q.Set("profile", f.Profile)
	}
	if f.Principal != "" {
		q.Set("principal", f.Principal)
	}
	if f.ActiveOnly {
		q.Set("active", "true")
	}
	return q
}

// GetSession reads one session: GET /v1/sessions/{id}.
func (c *Client) GetSession(ctx context.Context, id string) (*Session, error) {
	return doCall[Session](ctx, c, http.MethodGet, "/v1/sessions/"+url.PathEscape(id), nil, nil)
}

// RevokeRequest is the body of POST /v1/sessions/{id}/revoke.
type RevokeRequest struct {
	Reason       string `json:"reason"`
	BlockMinutes int    `json:"block_minutes,omitempty"`
}

// Revocation is the answer of a revoke.
type Revocation struct {
	SessionID   string `json:"session_id"`
	Status      string `json:"status"`
	Enforcement string `json:"enforcement"` // session_tag or token_issue_time
	// TokenIssueCutoff (token_issue_time): every session of the role issued
	// before it is denied.
	TokenIssueCutoff time.Time `json:"token_issue_cutoff,omitzero"`
	BlockedUntil     time.Time `json:"blocked_until,omitzero"`
	// Warning is set when this revocation wrote the role-wide cut-off.
	Warning string `json:"warning,omitempty"`
}

// Revoke revokes a session: POST /v1/sessions/{id}/revoke.
func (c *Client) Revoke(ctx context.Context, id string, req RevokeRequest, opts ...CallOption) (*Revocation, error) {
	return doCall[Revocation](ctx, c, http.MethodPost, "/v1/sessions/"+url.PathEscape(id)+"/revoke", nil, req, opts...)
}

// doCall sends one request and decodes the answer into a new T.
func doCall[T any](ctx context.Context, c *Client, method, path string, q url.Values, body any, opts ...CallOption) (*T, error) {
	var out T
	if err := c.do(ctx, method, path, q, body, &out, opts...); err != nil {
		return nil, err
	}
	return &out, nil
}

// list sends a GET whose answer is an object {"MEMBER": [...]} and returns
// the list (nil when the member is missing or null).
func list[T any](ctx context.Context, c *Client, member, path string, q url.Values) ([]T, error) {
	var out map[string]json.RawMessage
	if err := c.do(ctx, http.MethodGet, path, q, nil, &out); err != nil {
		return nil, err
	}
	var items []T
	if raw, ok := out[member]; ok {
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fmt.Errorf("client: GET %s: the answer is not the expected JSON: %w", path, err)
		}
	}
	return items, nil
}
