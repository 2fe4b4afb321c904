// Package revoke enforces session revocations in IAM: it keeps the inline
// policy sentinel-tvm-revocations on a vended role, one Deny-all statement
// per revoked session, conditioned on the session's sentinel:session-id
// tag, so credentials already in a client's hands stop working once IAM
// propagates the change.
//
// It runs in its own Lambda function (SENTINEL_FUNCTION=revoker), the only
// one with IAM write permission; the API function invokes it (Invoker) and
// keeps no IAM permission of its own. Local mode runs it in-process.
//
// Each statement's Sid encodes the session ID and its expiry, so pruning
// needs no lookup: statements of expired sessions are dropped on every
// write. The policy stays within IAM's inline-policy size limit (10,240
// characters per role, all inline policies together, whitespace not
// counted); when a revocation would not fit, every per-session statement
// is replaced by one aws:TokenIssueTime cut-off for the whole role, kept
// until every session issued before it has expired, and the result says
// so (enforcement token_issue_time).
//
// IAM has no conditional writes. Within the TVM, revocations of one role
// do not overlap: the API function holds a per-role lease in the table
// (store.Leases) around its call to the revoker, so the revoker itself
// runs concurrently for different roles and takes no lock. Writers outside
// the TVM (a person, another tool) can still race it: each revocation
// reads, modifies and writes the policy, then reads it again to check its
// statement is there, and redoes a lost round a bounded number of times.
package revoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// The policy and its limits.
const (
	PolicyName = "sentinel-tvm-revocations"
	// MaxInlinePolicyChars is IAM's limit on all inline policies of a role
	// together, whitespace not counted.
	MaxInlinePolicyChars = 10240
	// MaxSessionLifetime is the longest session the TVM vends: a
	// token-issue-time cut-off is kept this long.
	MaxSessionLifetime = time.Hour
	// SessionTag is the session tag every vended session carries.
	SessionTag = "sentinel:session-id"
)

// Enforcement modes.
const (
	EnforcementSessionTag     = "session_tag"
	EnforcementTokenIssueTime = "token_issue_time"
)

// Request is one revocation: the revoker function's event.
type Request struct {
	RoleARN   string    `json:"role_arn"`
	SessionID string    `json:"session_id"`
	ExpiresAt time.Time `json:"expires_at"`
	// IssuedAt, when given, tells whether a token-issue-time cut-off
	// already covers the session.
	IssuedAt time.Time `json:"issued_at,omitzero"`
}

// Result is the revoker function's answer.
type Result struct {
	Enforcement string `json:"enforcement"` // session_tag or token_issue_time
	PolicyName  string `json:"policy_name"`
	Statements  int    `json:"statements"`   // in the policy as written
	PolicyChars int    `json:"policy_chars"` // all inline policies of the role, whitespace not counted
	// TokenIssueCutoff is the cut-off in force (token_issue_time only):
	// every session of the role issued before it is denied.
	TokenIssueCutoff time.Time `json:"token_issue_cutoff,omitzero"`
	Attempts         int       `json:"attempts"`
}

// Errors.
var (
	// ErrInvalid: the request is malformed (the caller's bug).
	ErrInvalid = errors.New("revoke: invalid request")
	// ErrLostRace: concurrent writers kept overwriting the policy.
	ErrLostRace = errors.New("revoke: the policy kept changing under concurrent writers")
	// ErrTooLarge: not even a cut-off fits beside the role's other inline policies.
	ErrTooLarge = errors.New("revoke: the role's other inline policies leave no room")
)

// IAMAPI is the part of the IAM client the revoker uses.
type IAMAPI interface {
	GetRolePolicy(ctx context.Context, in *iam.GetRolePolicyInput, optFns ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error)
	PutRolePolicy(ctx context.Context, in *iam.PutRolePolicyInput, optFns ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
	ListRolePolicies(ctx context.Context, in *iam.ListRolePoliciesInput, optFns ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error)
}

// Revoker writes revocations into the roles' inline policies.
type Revoker struct {
	// Clients returns the IAM client acting in the role's account.
	Clients func(ctx context.Context, accountID string) (IAMAPI, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxAttempts bounds read-modify-write rounds; 0 means 5.
	MaxAttempts int
	// Settle is how long to wait before the verifying read, so a writer
	// that read before our write has likely written by then; 0 means none.
	Settle time.Duration
	// Limit overrides MaxInlinePolicyChars (tests); 0 means the IAM limit.
	Limit int
}

var (
	roleARNRE   = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\x21-\x7E]*/)?([\w+=,.@-]{1,64})$`)
	sessionIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)
	revokeSidRE = regexp.MustCompile(`^Revoke([0-9a-f]{32})Until(\d{1,12})$`)
	cutoffSidRE = regexp.MustCompile(`^RevokeIssuedBefore(\d{1,12})$`)
)

// Revoke makes sure the session is denied on its role, and says how.
// Callers keep revocations of one role from overlapping (the lease).
func (r *Revoker) Revoke(ctx context.Context, req Request) (Result, error) {
	m := roleARNRE.FindStringSubmatch(req.RoleARN)
	switch {
	case m == nil:
		return Result{}, fmt.Errorf("%w: role_arn %q is not an IAM role ARN", ErrInvalid, req.RoleARN)
	case !sessionIDRE.MatchString(req.SessionID):
		return Result{}, fmt.Errorf("%w: session_id must be 32 lowercase hex characters", ErrInvalid)
	case req.ExpiresAt.IsZero():
		return Result{}, fmt.Errorf("%w: expires_at is required", ErrInvalid)
	case !req.ExpiresAt.After(r.now()):
		return Result{}, fmt.Errorf("%w: the session expired at %s; there is nothing to revoke", ErrInvalid, req.ExpiresAt.UTC().Format(time.RFC3339))
	}
	account, role := m[1], m[2]
	client, err := r.Clients(ctx, account)
	if err != nil {
		return Result{}, fmt.Errorf("revoke: IAM client for account %s: %w", account, err)
	}
	others, err := otherPoliciesChars(ctx, client, role)
	if err != nil {
		return Result{}, err
	}
	attempts := r.MaxAttempts
	if attempts <= 0 {
		attempts = 5
	}
	forceCutoff := false
	for attempt := 1; attempt <= attempts; attempt++ {
		doc, err := readPolicy(ctx, client, role)
		if err != nil {
			return Result{}, err
		}
		now := r.now()
		changed := doc.prune(now)
		res := Result{PolicyName: PolicyName, Attempts: attempt}
		switch {
		case doc.covers(req):
			// Already denied: by its own statement or a cut-off.
		case !forceCutoff && others+doc.with(req).chars() <= r.limit():
			doc = doc.with(req)
			changed = true
		default:
			doc = doc.withCutoff(now)
			changed = true
			if others+doc.chars() > r.limit() {
				return Result{}, fmt.Errorf("%w: %d characters of other inline policies on role %s", ErrTooLarge, others, role)
			}
		}
		if changed {
			if err := writePolicy(ctx, client, role, doc); err != nil {
				var limit *iamtypes.LimitExceededException
				if errors.As(err, &limit) && !forceCutoff {
					// Another inline policy grew meanwhile: fall back.
					forceCutoff = true
					if others, err = otherPoliciesChars(ctx, client, role); err != nil {
						return Result{}, err
					}
					continue
				}
				return Result{}, err
			}
			if r.Settle > 0 {
				select {
				case <-ctx.Done():
					return Result{}, ctx.Err()
				case <-time.After(r.Settle):
				}
			}
			if doc, err = readPolicy(ctx, client, role); err != nil {
				return Result{}, err
			}
			if !doc.covers(req) {
				// Lost to a concurrent writer: read again and redo.
				select {
				case <-ctx.Done():
					return Result{}, ctx.Err()
				case <-time.After(time.Duration(rand.Int64N(int64(attempt) * int64(50*time.Millisecond)))):
				}
				continue
			}
		}
		res.Statements, res.PolicyChars = len(doc.Statement), others+doc.chars()
		res.Enforcement = EnforcementSessionTag
		if !doc.hasSession(req.SessionID) {
			res.Enforcement = EnforcementTokenIssueTime
			res.TokenIssueCutoff = doc.cutoff()
		}
		return res, nil
	}
	return Result{}, fmt.Errorf("%w: role %s, %d attempts", ErrLostRace, role, attempts)
}

func (r *Revoker) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *Revoker) limit() int {
	if r.Limit > 0 {
		return r.Limit
	}
	return MaxInlinePolicyChars
}

// Document is the revocation policy: the statements the revoker wrote,
// and any others (kept as they are).
type Document struct {
	Version   string            `json:"Version"`
	Statement []json.RawMessage `json:"Statement"`
}

type statementSid struct {
	Sid string `json:"Sid"`
}

func sidOf(raw json.RawMessage) string {
	var s statementSid
	_ = json.Unmarshal(raw, &s)
	return s.Sid
}

// SessionStatement is the deny of one session until it expires.
func SessionStatement(sessionID string, expires time.Time) json.RawMessage {
	b, _ := json.Marshal(map[string]any{
		"Sid":       "Revoke" + sessionID + "Until" + strconv.FormatInt(expires.Unix(), 10),
		"Effect":    "Deny",
		"Action":    "*",
		"Resource":  "*",
		"Condition": map[string]any{"StringEquals": map[string]string{"aws:PrincipalTag/" + SessionTag: sessionID}},
	})
	return b
}

// CutoffStatement denies every session of the role issued before cutoff.
func CutoffStatement(cutoff time.Time) json.RawMessage {
	b, _ := json.Marshal(map[string]any{
		"Sid":       "RevokeIssuedBefore" + strconv.FormatInt(cutoff.Unix(), 10),
		"Effect":    "Deny",
		"Action":    "*",
		"Resource":  "*",
		"Condition": map[string]any{"DateLessThan": map[string]string{"aws:TokenIssueTime": cutoff.UTC().Format(time.RFC3339)}},
	})
	return b
}

// prune drops the statements whose sessions have all expired.
func (d *Document) prune(now time.Time) bool {
	kept := d.Statement[:0:0]
	for _, st := range d.Statement {
		sid := sidOf(st)
		if m := revokeSidRE.FindStringSubmatch(sid); m != nil {
			if exp, _ := strconv.ParseInt(m[2], 10, 64); exp <= now.Unix() {
				continue
			}
		}
		if m := cutoffSidRE.FindStringSubmatch(sid); m != nil {
			if c, _ := strconv.ParseInt(m[1], 10, 64); time.Unix(c, 0).Add(MaxSessionLifetime).Unix() <= now.Unix() {
				continue
			}
		}
		kept = append(kept, st)
	}
	changed := len(kept) != len(d.Statement)
	d.Statement = kept
	return changed
}

func (d *Document) hasSession(id string) bool {
	for _, st := range d.Statement {
		if m := revokeSidRE.FindStringSubmatch(sidOf(st)); m != nil && m[1] == id {
			return true
		}
	}
	return false
}

// cutoff returns the latest token-issue-time cut-off, or the zero time.
func (d *Document) cutoff() time.Time {
	var latest int64
	for _, st := range d.Statement {
		if m := cutoffSidRE.FindStringSubmatch(sidOf(st)); m != nil {
			if c, _ := strconv.ParseInt(m[1], 10, 64); c > latest {
				latest = c
			}
		}
	}
	if latest == 0 {
		return time.Time{}
	}
	return time.Unix(latest, 0).UTC()
}

// covers reports whether the session is denied: by its own statement, or
// by a cut-off after it was issued. Without IssuedAt only a cut-off after
// its expiry counts.
func (d *Document) covers(req Request) bool {
	if d.hasSession(req.SessionID) {
		return true
	}
	issued := req.IssuedAt
	if issued.IsZero() {
		issued = req.ExpiresAt
	}
	c := d.cutoff()
	return !c.IsZero() && issued.Before(c)
}

func (d Document) with(req Request) Document {
	d.Statement = append(d.Statement[:len(d.Statement):len(d.Statement)], SessionStatement(req.SessionID, req.ExpiresAt))
	return d
}

// withCutoff replaces every revoker statement with one cut-off at now
// (rounded up to the second): it covers every session revoked so far, all
// of which were issued before now.
func (d Document) withCutoff(now time.Time) Document {
	var kept []json.RawMessage
	for _, st := range d.Statement {
		sid := sidOf(st)
		if !revokeSidRE.MatchString(sid) && !cutoffSidRE.MatchString(sid) {
			kept = append(kept, st)
		}
	}
	cutoff := now.Truncate(time.Second).Add(time.Second)
	d.Statement = append(kept, CutoffStatement(cutoff))
	return d
}

// JSON renders the document without whitespace.
func (d Document) JSON() string {
	if d.Version == "" {
		d.Version = "2012-10-17"
	}
	b, _ := json.Marshal(d)
	return string(b)
}

func (d Document) chars() int { return Chars(d.JSON()) }

// Chars counts a policy's characters as IAM does for its size limits:
// whitespace is not counted.
func Chars(policy string) int {
	n := 0
	for _, r := range policy {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

// decodeDocument reads a policy document as GetRolePolicy returns it:
// URL-encoded (RFC 3986) by IAM; some emulators return it as it is.
func decodeDocument(s string) (string, error) {
	if t := strings.TrimSpace(s); strings.HasPrefix(t, "{") {
		return t, nil
	}
	return url.QueryUnescape(s)
}

// readPolicy reads the revocation policy; a missing one is empty.
func readPolicy(ctx context.Context, client IAMAPI, role string) (Document, error) {
	out, err := client.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(PolicyName)})
	var nse *iamtypes.NoSuchEntityException
	switch {
	case errors.As(err, &nse):
		return Document{Version: "2012-10-17"}, nil
	case err != nil:
		return Document{}, fmt.Errorf("revoke: read %s on role %s: %w", PolicyName, role, err)
	}
	raw, err := decodeDocument(aws.ToString(out.PolicyDocument))
	if err != nil {
		return Document{}, fmt.Errorf("revoke: %s on role %s is not URL-encoded JSON: %w", PolicyName, role, err)
	}
	var doc Document
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		return Document{}, fmt.Errorf("revoke: %s on role %s is not a policy document: %w", PolicyName, role, err)
	}
	return doc, nil
}

func writePolicy(ctx context.Context, client IAMAPI, role string, doc Document) error {
	_, err := client.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName: aws.String(role), PolicyName: aws.String(PolicyName), PolicyDocument: aws.String(doc.JSON()),
	})
	if err != nil {
		return fmt.Errorf("revoke: write %s on role %s: %w", PolicyName, role, err)
	}
	return nil
}

// otherPoliciesChars sums the sizes of the role's other inline policies,
// which share the limit.
func otherPoliciesChars(ctx context.Context, client IAMAPI, role string) (int, error) {
	total := 0
	p := iam.NewListRolePoliciesPaginator(client, &iam.ListRolePoliciesInput{RoleName: aws.String(role)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("revoke: list inline policies of role %s: %w", role, err)
		}
		for _, name := range page.PolicyNames {
			if name == PolicyName {
				continue
			}
			out, err := client.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name)})
			if err != nil {
				return 0, fmt.Errorf("revoke: read inline policy %s of role %s: %w", name, role, err)
			}
			raw, err := decodeDocument(aws.ToString(out.PolicyDocument))
			if err != nil {
				return 0, fmt.Errorf("revoke: inline policy %s of role %s: %w", name, role, err)
			}
			total += Chars(raw)
		}
	}
	return total, nil
}
