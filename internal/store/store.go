// Package store is the data layer of the single DynamoDB table: sessions,
// approval requests, break-glass events, rate-limit windows, idempotency
// keys and leases (docs/data-model.md describes the keys and access
// patterns).
//
// Store is what the service needs, one method per access pattern. Dynamo
// implements it on DynamoDB; Memory is an in-memory fake with the same
// semantics, and one test suite runs against both. State transitions are
// conditional writes, so concurrent callers never lose an update.
//
// Times are kept to the second, in UTC. Methods never log; they return the
// sentinel errors below, and wrap AWS failures in ErrUnavailable.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors. Compare with errors.Is; a *RateLimitedError also matches
// ErrRateLimited and carries the retry-after.
var (
	// ErrNotFound: no such item (or it has passed its retention).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: the item is not in a state that allows the change
	// (e.g. an approval that is no longer pending, a second active
	// break-glass event, an idempotency key already used).
	ErrConflict = errors.New("store: conflict")
	// ErrSessionExists: Vend met a session with the same ID.
	ErrSessionExists = errors.New("store: session ID already exists")
	// ErrRateLimited: the caller's rate-limit window is full.
	ErrRateLimited = errors.New("store: rate limited")
	// ErrBlocked: Vend met a re-vending block on the person and profile
	// (set when a session was revoked with a block). A *BlockedError also
	// matches it and carries the block's end.
	ErrBlocked = errors.New("store: vending is blocked")
	// ErrUnavailable wraps failures of the table itself (AWS errors,
	// throttling, transaction conflicts that outlasted retries): callers
	// answer 503. The AWS error stays in the chain for errors.As.
	ErrUnavailable = errors.New("store: unavailable")
)

// RateLimitedError reports a full rate-limit window.
type RateLimitedError struct {
	Limit      int
	Window     time.Duration
	RetryAfter time.Duration // until the window ends, at least one second
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("store: rate limited: %d requests per %s, retry after %s", e.Limit, e.Window, e.RetryAfter)
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitedError) Is(target error) bool { return target == ErrRateLimited }

// BlockedError reports a re-vending block in force.
type BlockedError struct {
	Until time.Time
}

func (e *BlockedError) Error() string {
	return "store: vending is blocked until " + e.Until.UTC().Format(time.RFC3339)
}

// Is makes errors.Is(err, ErrBlocked) true.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// Store is the whole data layer.
type Store interface {
	Sessions
	Approvals
	BreakGlass
	Idempotency
	Blocks
	Leases
}

// RateKey names one rate-limit counter, e.g. a principal's identity.
type RateKey string

// Sessions records vended sessions and the request rate per caller.
type Sessions interface {
	// Vend records s and counts one request against key in a single
	// transaction: at most limit requests per fixed window. It fails with
	// a *RateLimitedError when the window is full and ErrSessionExists when
	// s.ID is taken; then nothing is written. A re-vending block on the
	// session's person and profile (see Blocks) is checked in the same
	// transaction: a *BlockedError, and nothing written.
	Vend(ctx context.Context, key RateKey, limit int, window time.Duration, s SessionRecord) error
	// VendApproved is Vend that also consumes the approval s.ApprovalID
	// (approved and unexpired -> used, by this session) in the same
	// transaction: ErrConflict when the approval is not usable, and then
	// nothing is written. It saves MarkApprovalUsed's read and write.
	VendApproved(ctx context.Context, key RateKey, limit int, window time.Duration, s SessionRecord) error
	// CountRequest counts a request that vends nothing (a denied one)
	// against key, failing with a *RateLimitedError when the window is full.
	CountRequest(ctx context.Context, key RateKey, limit int, window time.Duration) error
	// MarkSessionFailed records that STS did not issue the credentials of
	// an active session. ErrConflict if it is not active.
	MarkSessionFailed(ctx context.Context, id, reason string) error
	GetSession(ctx context.Context, id string) (SessionRecord, error)
	// ListSessionsByPrincipal lists one person's sessions (principal ARN
	// plus trusted user), newest first.
	ListSessionsByPrincipal(ctx context.Context, principal, user string, f SessionFilter) ([]SessionRecord, error)
	// ListSessions lists every caller's sessions, newest first (operators).
	ListSessions(ctx context.Context, f SessionFilter) ([]SessionRecord, error)
	// RevokeSession moves an active, unexpired session to revoked,
	// recording r (and r.Enforcement, what enforces it in IAM).
	// ErrConflict if it is not active.
	RevokeSession(ctx context.Context, id string, r Revocation) (SessionRecord, error)
}

// Approvals keeps approval requests.
type Approvals interface {
	// CreateApproval stores a new pending request, or returns the pending
	// request the same person already has for the profile (created false).
	CreateApproval(ctx context.Context, a ApprovalRequest) (got ApprovalRequest, created bool, err error)
	GetApproval(ctx context.Context, id string) (ApprovalRequest, error)
	// ListApprovalsByRequester lists one person's requests, newest first.
	ListApprovalsByRequester(ctx context.Context, principal, user string, p Page) ([]ApprovalRequest, error)
	// ListApprovalsByStatus lists requests in status, newest first;
	// ApprovalExpired lists pending and approved requests past expires_at.
	ListApprovalsByStatus(ctx context.Context, status ApprovalStatus, p Page) ([]ApprovalRequest, error)
	// DecideApproval records d on a pending request: a deny denies it, and
	// the MinApprovals-th distinct approval approves it. ErrConflict if it
	// is not pending (or expired) or the approver already decided.
	DecideApproval(ctx context.Context, id string, d Decision) (ApprovalRequest, error)
	// CancelApproval cancels a pending request. ErrConflict if not pending.
	CancelApproval(ctx context.Context, id, by string) (ApprovalRequest, error)
	// MarkApprovalUsed consumes an approved, unexpired request for the
	// session sessionID, exactly once. ErrConflict otherwise.
	MarkApprovalUsed(ctx context.Context, id, sessionID string) (ApprovalRequest, error)
	// ExpireApprovals stores status expired on pending and approved
	// requests past their expiry (at most limit of them, 0 meaning
	// DefaultListLimit) and returns the ones it changed. Each expiry is
	// returned by exactly one call, whichever stored it, so the sweep that
	// announces expiries announces each once.
	ExpireApprovals(ctx context.Context, limit int) ([]ApprovalRequest, error)
}

// BreakGlass keeps break-glass events.
type BreakGlass interface {
	// OpenBreakGlass stores an active event. ErrConflict if the person
	// already has an active, unexpired event for the profile.
	OpenBreakGlass(ctx context.Context, e BreakGlassEvent) (BreakGlassEvent, error)
	GetBreakGlass(ctx context.Context, id string) (BreakGlassEvent, error)
	// ActiveBreakGlass returns the person's active, unexpired event for
	// the profile (its ID, person, profile, status and expiry only), or
	// ErrNotFound. Strongly consistent (the person's lock item, from the
	// table itself, not an index): an event closed a moment ago no longer
	// grants anything.
	ActiveBreakGlass(ctx context.Context, principal, user, profile string) (BreakGlassEvent, error)
	// ListBreakGlass lists events, newest first.
	ListBreakGlass(ctx context.Context, f BreakGlassFilter) ([]BreakGlassEvent, error)
	// CloseBreakGlass closes an active event. ErrConflict if not active.
	CloseBreakGlass(ctx context.Context, id, by, comment string) (BreakGlassEvent, error)
}

// Blocks keeps re-vending blocks: after a revocation with a block, Vend
// refuses the person and profile until the block ends.
type Blocks interface {
	// BlockVending stores b unless a block that ends later is in force
	// for the same person and profile (then it is kept, and nil returned).
	BlockVending(ctx context.Context, b Block) error
	// GetBlock returns the block in force for the person and profile, or
	// ErrNotFound.
	GetBlock(ctx context.Context, principal, user, profile string) (Block, error)
}

// Leases are short mutual-exclusion locks with an expiry, for work outside
// the table that must not overlap (revocations rewriting one role's IAM
// policy, which has no conditional write). A lease whose holder died
// lapses at its Until; nothing else frees it.
type Leases interface {
	// AcquireLease takes the lease name for owner until until (rounded up
	// to the second). It succeeds when the lease is free, has lapsed
	// (its until is before now), or is already owner's (then until is
	// renewed); it fails with ErrConflict while another owner holds it.
	// A zero now means the store's clock.
	AcquireLease(ctx context.Context, name, owner string, until, now time.Time) error
	// ReleaseLease frees the lease name if owner holds it. A lease held by
	// another owner (it lapsed and was taken over) or already gone is left
	// as it is, and is not an error.
	ReleaseLease(ctx context.Context, name, owner string) error
}

// Block refuses re-vending for one person and profile until Until.
type Block struct {
	Principal string
	User      string
	Profile   string
	Until     time.Time
	By        string // identity of whoever set it
	Reason    string
	SessionID string // the revoked session that caused it
	CreatedAt time.Time
}

// Idempotency stores the responses of state-creating requests by their
// Idempotency-Key.
type Idempotency interface {
	// PutIdempotency stores r unless its key is taken (ErrConflict).
	PutIdempotency(ctx context.Context, r IdempotencyRecord) error
	// GetIdempotency returns the unexpired record for the person's key.
	GetIdempotency(ctx context.Context, principal, user, key string) (IdempotencyRecord, error)
}

// SessionStatus is a session's state. Expired is never stored: an active
// session past ExpiresAt reads as expired.
type SessionStatus string

const (
	SessionActive  SessionStatus = "active"
	SessionExpired SessionStatus = "expired"
	SessionRevoked SessionStatus = "revoked"
	SessionFailed  SessionStatus = "failed" // STS did not issue credentials
)

// SessionRecord is one vend.
type SessionRecord struct {
	ID             string
	Principal      string // principal ARN
	User           string // trusted user, or ""
	CallerARN      string
	Profile        string
	RoleARN        string
	SourceIdentity string
	Rule           string
	Via            string // policy, approval or break_glass
	ApprovalID     string
	BreakGlassID   string
	RequestID      string
	SourceIP       string
	Client         string // client mode the caller declared (caller-controlled)
	IssuedAt       time.Time
	ExpiresAt      time.Time
	Status         SessionStatus // Vend stores active whatever is set here
	FailureReason  string
	RevokedAt      time.Time
	RevokedBy      string
	RevokeReason   string
	// RevokeEnforcement says what enforces the revocation in IAM:
	// session_tag or token_issue_time.
	RevokeEnforcement string
}

// Revocation says who revoked a session and why.
type Revocation struct {
	By          string // identity of the revoker
	Reason      string
	Enforcement string // session_tag or token_issue_time
}

// SessionFilter narrows a session list. Zero values do not filter.
type SessionFilter struct {
	Principal  string // principal ARN (ListSessions only)
	Profile    string
	ActiveOnly bool   // active and unexpired
	Limit      int    // at most this many; 0 means DefaultListLimit
	Before     Cursor // only records after this one in the list (older)
}

// Cursor is a position in a newest-first list: the creation time and ID
// of the last record a page held. A list given a cursor resumes with the
// records that sort after it (created earlier, or in the same second with
// a smaller ID), so paging by the last record of each page neither repeats
// nor skips a record, and records created meanwhile (newer) do not shift
// the pages. The zero Cursor is the start of the list.
type Cursor struct {
	Time time.Time
	ID   string
}

// IsZero reports whether c is the start of the list.
func (c Cursor) IsZero() bool { return c.ID == "" && c.Time.IsZero() }

// sk is the cursor as the sort key of a record of kind.
func (c Cursor) sk(kind string) string {
	if c.IsZero() {
		return ""
	}
	return createdSK(kind, c.Time, c.ID)
}

// Page bounds a list that has no filter: at most Limit records (0 means
// DefaultListLimit) after Before.
type Page struct {
	Before Cursor
	Limit  int
}

func (p Page) limit() int { return orDefault(p.Limit) }

// before reports whether a record of sort key sk comes after cursor (its
// sort key, "" for the start) in a newest-first list.
func before(sk, cursor string) bool { return cursor == "" || sk < cursor }

// DefaultListLimit bounds a list when its filter sets no limit.
const DefaultListLimit = 100

// ApprovalStatus is an approval request's state. A pending or approved
// request past ExpiresAt reads as expired; ExpireApprovals (the expiry
// sweep) then stores expired.
type ApprovalStatus string

const (
	ApprovalPending   ApprovalStatus = "pending"
	ApprovalApproved  ApprovalStatus = "approved"
	ApprovalDenied    ApprovalStatus = "denied"
	ApprovalCancelled ApprovalStatus = "cancelled"
	ApprovalExpired   ApprovalStatus = "expired"
	ApprovalUsed      ApprovalStatus = "used"
)

// ApprovalRequest asks for a second person's approval of a vend.
type ApprovalRequest struct {
	ID              string
	Status          ApprovalStatus // CreateApproval stores pending
	Principal       string         // requester's principal ARN
	User            string         // requester's trusted user, or ""
	Profile         string
	Rule            string
	Justification   string
	DurationSeconds int // requested session duration
	MinApprovals    int // distinct approvals needed; at least 1
	CreatedAt       time.Time
	ExpiresAt       time.Time
	Decisions       []Decision
	DecidedAt       time.Time // when it left pending
	CancelledBy     string
	UsedAt          time.Time
	UsedBySession   string
}

// Decision is one approver's answer.
type Decision struct {
	Approver string // identity of the approver (principal ARN plus user)
	Approve  bool
	Comment  string
	At       time.Time // set by the store
}

// BreakGlassStatus is a break-glass event's state. Expired is never stored.
type BreakGlassStatus string

const (
	BreakGlassActive  BreakGlassStatus = "active"
	BreakGlassExpired BreakGlassStatus = "expired"
	BreakGlassClosed  BreakGlassStatus = "closed"
)

// BreakGlassEvent is an emergency access window.
type BreakGlassEvent struct {
	ID              string
	Status          BreakGlassStatus // OpenBreakGlass stores active
	Principal       string
	User            string
	Profile         string
	ReasonCode      string
	Justification   string
	DurationSeconds int
	OpenedAt        time.Time
	ExpiresAt       time.Time
	ClosedAt        time.Time
	ClosedBy        string
	CloseComment    string
}

// BreakGlassFilter narrows a break-glass list. Zero values do not filter.
type BreakGlassFilter struct {
	Principal  string
	User       string // with Principal: only this person's events
	Profile    string
	ActiveOnly bool
	Limit      int
	Before     Cursor // only events after this one in the list (older)
}

// IdempotencyRecord is a stored response to a state-creating request.
type IdempotencyRecord struct {
	Principal   string
	User        string
	Key         string // the Idempotency-Key header
	RequestHash string // hash of method, path and body, to spot a reused key
	StatusCode  int
	Body        []byte
	CreatedAt   time.Time
	ExpiresAt   time.Time // the record is gone after this
}

// Options tune both implementations.
type Options struct {
	// Retention is how long records outlive their expiry (for audits).
	// Zero means DefaultRetention.
	Retention time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultRetention is how long records outlive their expiry by default.
const DefaultRetention = 90 * 24 * time.Hour

// RateWindowSlack keeps a rate-limit window's item past the window's end,
// so a late request in it still finds the counter.
const RateWindowSlack = time.Minute

func (o Options) withDefaults() Options {
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

func (o Options) now() time.Time { return stamp(o.Now()) }

// Person is the human an Identity names: "user:" and the trusted user
// when there is one (one person through any trusted role and account, as
// policy.Principal.Person), else the principal ARN.
func Person(identity string) string {
	if i := strings.LastIndexByte(identity, '#'); i >= 0 {
		return "user:" + identity[i+1:]
	}
	return identity
}

// stamp normalises a time as the table keeps it: UTC, whole seconds.
func stamp(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Second)
}

// Identity is the key naming one person, as policy.Principal.Identity:
// the principal ARN, plus "#" and the trusted user when there is one.
func Identity(principal, user string) string {
	if user == "" {
		return principal
	}
	return principal + "#" + user
}

// rateWindow returns the fixed window holding now.
func rateWindow(now time.Time, window time.Duration) (start, end time.Time) {
	start = now.Truncate(window)
	return start, start.Add(window)
}

func rateLimited(now time.Time, limit int, window time.Duration) *RateLimitedError {
	_, end := rateWindow(now, window)
	retry := end.Sub(now).Round(time.Second)
	if retry < time.Second {
		retry = time.Second
	}
	return &RateLimitedError{Limit: limit, Window: window, RetryAfter: retry}
}

// Effective statuses: what a stored status reads as at now.

func (s SessionRecord) at(now time.Time) SessionRecord {
	if s.Status == SessionActive && !now.Before(s.ExpiresAt) {
		s.Status = SessionExpired
	}
	return s
}

func (a ApprovalRequest) at(now time.Time) ApprovalRequest {
	if (a.Status == ApprovalPending || a.Status == ApprovalApproved) && !now.Before(a.ExpiresAt) {
		a.Status = ApprovalExpired
	}
	return a
}

func (e BreakGlassEvent) at(now time.Time) BreakGlassEvent {
	if e.Status == BreakGlassActive && !now.Before(e.ExpiresAt) {
		e.Status = BreakGlassExpired
	}
	return e
}

func (f SessionFilter) limit() int    { return orDefault(f.Limit) }
func (f BreakGlassFilter) limit() int { return orDefault(f.Limit) }
func orDefault(n int) int {
	if n <= 0 {
		return DefaultListLimit
	}
	return n
}

func (f SessionFilter) match(s SessionRecord, now time.Time) bool {
	return (f.Principal == "" || s.Principal == f.Principal) &&
		(f.Profile == "" || s.Profile == f.Profile) &&
		(!f.ActiveOnly || s.at(now).Status == SessionActive)
}

func (f BreakGlassFilter) match(e BreakGlassEvent, now time.Time) bool {
	return (f.Principal == "" || e.Principal == f.Principal) &&
		(f.Principal == "" || f.User == "" || e.User == f.User) &&
		(f.Profile == "" || e.Profile == f.Profile) &&
		(!f.ActiveOnly || e.at(now).Status == BreakGlassActive)
}
