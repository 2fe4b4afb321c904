// Package revoke enforces session revocations in IAM: it keeps the inline
// policy sentinel-tvm-revocations on a vended role, denying everything to
// the revoked sessions by their sentinel:session-id session tag, so
// credentials already in a client's hands stop working once IAM propagates
// the change.
//
// It runs in its own Lambda function (SENTINEL_FUNCTION=revoker), the only
// one with IAM write permission; the API function invokes it (Invoker) and
// keeps no IAM permission of its own. Local mode runs it in-process.
//
// The revoker trusts nothing in its event but the two keys: it acts only
// on a session it finds in the table (active or revoked, of the role the
// event names), with the session's recorded issue and expiry times, and
// only in the role's own account (its own credentials there, a writer
// role in any other account, or a refusal).
//
// Revoked sessions are packed: one Deny statement per quarter hour of
// expiry lists every session ID that expires in it, and the Sid carries
// that quarter hour's end, so pruning needs no lookup: statements whose
// sessions have all expired are dropped on every write. The policy stays
// within IAM's inline-policy size limit (10,240 characters per role, all
// inline policies together, whitespace not counted); only when a
// revocation would not fit even then is every per-session deny replaced by
// one aws:TokenIssueTime cut-off for the whole role, kept until every
// session issued before it has expired, and the result says so
// (enforcement token_issue_time, cutoff_written).
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
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
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
	// Bucket is the expiry granularity of the packed statements: a
	// statement denies the sessions expiring within one Bucket and is
	// pruned at its end.
	Bucket = 15 * time.Minute
)

// Enforcement modes.
const (
	EnforcementSessionTag     = "session_tag"
	EnforcementTokenIssueTime = "token_issue_time"
)

// Request is one revocation: the revoker function's event. Only RoleARN
// and SessionID are trusted as keys: the session must be in the table,
// of that role, and its recorded times are used. IssuedAt and ExpiresAt
// are informational (older callers send them); a value that differs from
// the record is ignored.
type Request struct {
	RoleARN   string    `json:"role_arn"`
	SessionID string    `json:"session_id"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	IssuedAt  time.Time `json:"issued_at,omitzero"`
}

// Result is the revoker function's answer.
type Result struct {
	Enforcement string `json:"enforcement"` // session_tag or token_issue_time
	PolicyName  string `json:"policy_name"`
	Statements  int    `json:"statements"`   // in the policy as written
	Sessions    int    `json:"sessions"`     // session IDs denied one by one in the policy
	PolicyChars int    `json:"policy_chars"` // all inline policies of the role, whitespace not counted
	// TokenIssueCutoff is the cut-off in force (token_issue_time only):
	// every session of the role issued before it is denied.
	TokenIssueCutoff time.Time `json:"token_issue_cutoff,omitzero"`
	// CutoffWritten says this revocation wrote the cut-off (the policy was
	// full): every session of the role issued before it lost access, not
	// only the revoked one. Callers announce it.
	CutoffWritten bool `json:"cutoff_written,omitempty"`
	// SessionExpiresAt is the session's recorded expiry, the deny's end.
	SessionExpiresAt time.Time `json:"session_expires_at,omitzero"`
	Attempts         int       `json:"attempts"`
}

// Errors.
var (
	// ErrInvalid: the request is malformed (the caller's bug).
	ErrInvalid = errors.New("revoke: invalid request")
	// ErrUnknownSession: the table holds no revocable session of that
	// role under that ID (a forged or stale request). Nothing is written.
	ErrUnknownSession = errors.New("revoke: no revocable session")
	// ErrNoWriter: the role is in an account the revoker cannot act in
	// (no writer role configured). Nothing is written.
	ErrNoWriter = errors.New("revoke: no way to write in the role's account")
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

// Sessions is the part of the store the revoker reads: the session
// records the API function wrote when it vended.
type Sessions interface {
	GetSession(ctx context.Context, id string) (store.SessionRecord, error)
}

// Revoker writes revocations into the roles' inline policies.
type Revoker struct {
	// Clients returns an IAM client acting in exactly the given account,
	// or an error (ErrNoWriter) when the revoker cannot act there. It must
	// never return a client of another account: IAM's role-policy calls
	// take a role name, which a role of the same name in another account
	// would answer.
	Clients func(ctx context.Context, accountID string) (IAMAPI, error)
	// Sessions reads the session records; required (without it every
	// revocation is refused).
	Sessions Sessions
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
	// legacySidRE: one statement per session (written by earlier
	// versions; read, pruned and repacked).
	legacySidRE = regexp.MustCompile(`^Revoke([0-9a-f]{32})Until(\d{1,12})$`)
	packedSidRE = regexp.MustCompile(`^RevokeUntil(\d{1,12})$`)
	cutoffSidRE = regexp.MustCompile(`^RevokeIssuedBefore(\d{1,12})$`)
)

// target is what a revocation denies: a session as the table records it.
type target struct {
	id       string
	issued   time.Time
	expires  time.Time
	account  string
	roleName string
}

// check validates the request and looks the session up in the table.
func (r *Revoker) check(ctx context.Context, req Request) (target, error) {
	m := roleARNRE.FindStringSubmatch(req.RoleARN)
	switch {
	case m == nil:
		return target{}, fmt.Errorf("%w: role_arn %q is not an IAM role ARN", ErrInvalid, req.RoleARN)
	case !sessionIDRE.MatchString(req.SessionID):
		return target{}, fmt.Errorf("%w: session_id must be 32 lowercase hex characters", ErrInvalid)
	case r.Sessions == nil:
		return target{}, fmt.Errorf("%w: the revoker has no session table to check the request against", ErrUnknownSession)
	}
	se, err := r.Sessions.GetSession(ctx, req.SessionID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return target{}, fmt.Errorf("%w: session %s is not in the table", ErrUnknownSession, req.SessionID)
	case err != nil:
		return target{}, fmt.Errorf("revoke: read session %s: %w", req.SessionID, err)
	case se.RoleARN != req.RoleARN:
		return target{}, fmt.Errorf("%w: session %s is not a session of role %s", ErrUnknownSession, req.SessionID, req.RoleARN)
	case se.Status != store.SessionActive && se.Status != store.SessionRevoked:
		return target{}, fmt.Errorf("%w: session %s is %s", ErrUnknownSession, req.SessionID, se.Status)
	case !se.ExpiresAt.After(r.now()):
		return target{}, fmt.Errorf("%w: session %s expired at %s; there is nothing to revoke", ErrUnknownSession, req.SessionID, se.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return target{id: se.ID, issued: se.IssuedAt, expires: se.ExpiresAt, account: m[1], roleName: m[2]}, nil
}

// Revoke makes sure the session is denied on its role, and says how.
// Callers keep revocations of one role from overlapping (the lease).
func (r *Revoker) Revoke(ctx context.Context, req Request) (Result, error) {
	t, err := r.check(ctx, req)
	if err != nil {
		return Result{}, err
	}
	if r.Clients == nil {
		return Result{}, fmt.Errorf("%w %s: no IAM clients", ErrNoWriter, t.account)
	}
	client, err := r.Clients(ctx, t.account)
	if err != nil {
		return Result{}, fmt.Errorf("revoke: account %s of role %s: %w", t.account, req.RoleARN, err)
	}
	role := t.roleName
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
		st := parse(doc)
		changed := st.prune(now)
		res := Result{PolicyName: PolicyName, Attempts: attempt, SessionExpiresAt: t.expires}
		switch {
		case st.covers(t):
			// Already denied: by its own entry or a cut-off.
			if st.legacy {
				changed = true // repack the older layout
			}
		case !forceCutoff && others+st.with(t).render().chars() <= r.limit():
			st = st.with(t)
			changed = true
		default:
			st = st.withCutoff(now)
			changed = true
			res.CutoffWritten = true
			if others+st.render().chars() > r.limit() {
				return Result{}, fmt.Errorf("%w: %d characters of other inline policies on role %s", ErrTooLarge, others, role)
			}
		}
		if changed {
			if err := writePolicy(ctx, client, role, st.render()); err != nil {
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
			st = parse(doc)
			if !st.covers(t) {
				// Lost to a concurrent writer: read again and redo.
				select {
				case <-ctx.Done():
					return Result{}, ctx.Err()
				case <-time.After(time.Duration(rand.Int64N(int64(attempt) * int64(50*time.Millisecond)))):
				}
				continue
			}
		}
		written := st.render()
		res.Statements, res.Sessions, res.PolicyChars = len(written.Statement), len(st.entries), others+written.chars()
		res.Enforcement = EnforcementSessionTag
		if _, ok := st.entries[t.id]; !ok {
			res.Enforcement = EnforcementTokenIssueTime
			res.TokenIssueCutoff = st.cutoffTime()
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

// Document is the revocation policy as IAM holds it.
type Document struct {
	Version   string            `json:"Version"`
	Statement []json.RawMessage `json:"Statement"`
}

type statementHead struct {
	Sid       string `json:"Sid"`
	Condition struct {
		StringEquals map[string]json.RawMessage `json:"StringEquals"`
	} `json:"Condition"`
}

func sidOf(raw json.RawMessage) string {
	var s statementHead
	_ = json.Unmarshal(raw, &s)
	return s.Sid
}

// PackedStatement denies the sessions, all expiring by until.
func PackedStatement(until time.Time, sessionIDs []string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{
		"Sid":       "RevokeUntil" + strconv.FormatInt(until.Unix(), 10),
		"Effect":    "Deny",
		"Action":    "*",
		"Resource":  "*",
		"Condition": map[string]any{"StringEquals": map[string][]string{"aws:PrincipalTag/" + SessionTag: sessionIDs}},
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

// bucketEnd rounds an expiry up to the end of its Bucket.
func bucketEnd(t time.Time) int64 {
	b := int64(Bucket / time.Second)
	u := t.Unix()
	if t.Nanosecond() > 0 {
		u++
	}
	return (u + b - 1) / b * b
}

// state is the policy as the revoker reads it: the revoked sessions (ID
// to the end of the statement that denies it), the cut-offs, and any
// statement it did not write (kept as it is).
type state struct {
	entries map[string]int64
	cutoffs []int64
	others  []json.RawMessage
	legacy  bool // holds one-statement-per-session entries
}

// parse reads the policy. A statement counts as the revoker's own only if
// it is exactly what the revoker writes (a Deny of everything for the
// listed sessions, or before the cut-off), compared as JSON: a statement
// that merely borrows a Sid (an Allow, a narrower Deny, other conditions)
// denies nothing the revoker relies on, so it is kept as someone else's and
// never makes a revocation look written.
func parse(d Document) state {
	st := state{entries: map[string]int64{}}
	for _, raw := range d.Statement {
		var h statementHead
		_ = json.Unmarshal(raw, &h)
		if m := legacySidRE.FindStringSubmatch(h.Sid); m != nil {
			until, _ := strconv.ParseInt(m[2], 10, 64)
			if sameJSON(raw, legacyStatement(m[1], until)) {
				st.add(m[1], until)
				st.legacy = true
				continue
			}
		}
		if m := packedSidRE.FindStringSubmatch(h.Sid); m != nil {
			until, _ := strconv.ParseInt(m[1], 10, 64)
			ids, ok := conditionIDs(h.Condition.StringEquals["aws:PrincipalTag/"+SessionTag])
			if ok && sameJSON(raw, PackedStatement(time.Unix(until, 0), ids)) {
				for _, id := range ids {
					st.add(id, until)
				}
				continue
			}
		}
		if m := cutoffSidRE.FindStringSubmatch(h.Sid); m != nil {
			c, _ := strconv.ParseInt(m[1], 10, 64)
			if sameJSON(raw, CutoffStatement(time.Unix(c, 0))) {
				st.cutoffs = append(st.cutoffs, c)
				continue
			}
		}
		st.others = append(st.others, raw)
	}
	return st
}

// legacyStatement is the one-statement-per-session deny that earlier
// versions wrote.
func legacyStatement(sessionID string, until int64) json.RawMessage {
	b, _ := json.Marshal(map[string]any{
		"Sid":       "Revoke" + sessionID + "Until" + strconv.FormatInt(until, 10),
		"Effect":    "Deny",
		"Action":    "*",
		"Resource":  "*",
		"Condition": map[string]any{"StringEquals": map[string]string{"aws:PrincipalTag/" + SessionTag: sessionID}},
	})
	return b
}

// sameJSON reports whether two JSON documents hold the same value (key
// order and spacing aside).
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// conditionIDs reads a condition value: one string or a list.
func conditionIDs(raw json.RawMessage) ([]string, bool) {
	var one string
	if json.Unmarshal(raw, &one) == nil && sessionIDRE.MatchString(one) {
		return []string{one}, true
	}
	var many []string
	if json.Unmarshal(raw, &many) != nil || len(many) == 0 {
		return nil, false
	}
	for _, id := range many {
		if !sessionIDRE.MatchString(id) {
			return nil, false
		}
	}
	return many, true
}

func (st *state) add(id string, until int64) {
	if until > st.entries[id] {
		st.entries[id] = until
	}
}

// prune drops the entries whose statements have ended and the cut-offs
// every session issued before has outlived.
func (st *state) prune(now time.Time) bool {
	changed := false
	for id, until := range st.entries {
		if until <= now.Unix() {
			delete(st.entries, id)
			changed = true
		}
	}
	kept := st.cutoffs[:0:0]
	for _, c := range st.cutoffs {
		if time.Unix(c, 0).Add(MaxSessionLifetime).Unix() > now.Unix() {
			kept = append(kept, c)
		}
	}
	changed = changed || len(kept) != len(st.cutoffs)
	st.cutoffs = kept
	return changed
}

func (st state) clone() state {
	c := state{entries: make(map[string]int64, len(st.entries)+1), cutoffs: slices.Clone(st.cutoffs), others: st.others}
	for k, v := range st.entries {
		c.entries[k] = v
	}
	return c
}

// cutoffTime returns the latest token-issue-time cut-off, or the zero time.
func (st state) cutoffTime() time.Time {
	var latest int64
	for _, c := range st.cutoffs {
		latest = max(latest, c)
	}
	if latest == 0 {
		return time.Time{}
	}
	return time.Unix(latest, 0).UTC()
}

// covers reports whether the session is denied: by its own entry, or by a
// cut-off after it was issued.
func (st state) covers(t target) bool {
	if until, ok := st.entries[t.id]; ok && until >= t.expires.Unix() {
		return true
	}
	c := st.cutoffTime()
	return !c.IsZero() && t.issued.Before(c)
}

func (st state) with(t target) state {
	c := st.clone()
	c.add(t.id, bucketEnd(t.expires))
	return c
}

// withCutoff replaces every entry with one cut-off at now (rounded up to
// the second): it covers every session revoked so far, all of which were
// issued before now.
func (st state) withCutoff(now time.Time) state {
	return state{
		entries: map[string]int64{},
		cutoffs: []int64{now.Truncate(time.Second).Add(time.Second).Unix()},
		others:  st.others,
	}
}

// render packs the state: the other statements as they were, the latest
// cut-off, then one statement per bucket, IDs sorted (a stable document).
func (st state) render() Document {
	d := Document{Version: "2012-10-17", Statement: slices.Clone(st.others)}
	if c := st.cutoffTime(); !c.IsZero() {
		d.Statement = append(d.Statement, CutoffStatement(c))
	}
	buckets := map[int64][]string{}
	for id, until := range st.entries {
		b := bucketEnd(time.Unix(until, 0))
		buckets[b] = append(buckets[b], id)
	}
	ends := make([]int64, 0, len(buckets))
	for b := range buckets {
		ends = append(ends, b)
	}
	slices.Sort(ends)
	for _, b := range ends {
		ids := buckets[b]
		slices.Sort(ids)
		d.Statement = append(d.Statement, PackedStatement(time.Unix(b, 0), ids))
	}
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
