package store

import (
	"time"
)

// Items as the table holds them: keys, index keys, TTL, and the record's
// attributes in snake_case with times as epoch seconds. The attribute
// names of the keys must match the Attr constants (TestItemAttributeNames).

type itemKeys struct {
	PK     string `dynamodbav:"pk"`
	SK     string `dynamodbav:"sk"`
	GSI1PK string `dynamodbav:"gsi1pk,omitempty"`
	GSI1SK string `dynamodbav:"gsi1sk,omitempty"`
	GSI2PK string `dynamodbav:"gsi2pk,omitempty"`
	GSI2SK string `dynamodbav:"gsi2sk,omitempty"`
	TTL    int64  `dynamodbav:"ttl"`
	Kind   string `dynamodbav:"kind"`
}

// personRecordKeys are the keys of a record that belongs to a person (a
// session, an approval request, a break-glass event): found by ID, listed
// by person (gsi1) and under gsi2pk (its kind, or kind and status), newest
// first, and kept for retention after it expires.
func personRecordKeys(k key, kind, gsi2pk, principal, user, id string, created, expires time.Time, retention time.Duration) itemKeys {
	sk := createdSK(kind, created, id)
	return itemKeys{
		PK: k.pk, SK: k.sk,
		GSI1PK: personPK(principal, user), GSI1SK: sk,
		GSI2PK: gsi2pk, GSI2SK: sk,
		TTL: expires.Add(retention).Unix(), Kind: kind,
	}
}

func epoch(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func fromEpoch(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

type sessionItem struct {
	itemKeys
	ID             string `dynamodbav:"session_id"`
	Principal      string `dynamodbav:"principal"`
	User           string `dynamodbav:"user,omitempty"`
	CallerARN      string `dynamodbav:"caller_arn,omitempty"`
	Profile        string `dynamodbav:"profile"`
	RoleARN        string `dynamodbav:"role_arn,omitempty"`
	SourceIdentity string `dynamodbav:"source_identity,omitempty"`
	Rule           string `dynamodbav:"rule,omitempty"`
	Via            string `dynamodbav:"via,omitempty"`
	ApprovalID     string `dynamodbav:"approval_id,omitempty"`
	BreakGlassID   string `dynamodbav:"break_glass_id,omitempty"`
	RequestID      string `dynamodbav:"request_id,omitempty"`
	SourceIP       string `dynamodbav:"source_ip,omitempty"`
	Client         string `dynamodbav:"client,omitempty"`
	IssuedAt       int64  `dynamodbav:"issued_at"`
	ExpiresAt      int64  `dynamodbav:"expires_at"`
	Status         string `dynamodbav:"status"`
	FailureReason  string `dynamodbav:"failure_reason,omitempty"`
	RevokedAt      int64  `dynamodbav:"revoked_at,omitempty"`
	RevokedBy      string `dynamodbav:"revoked_by,omitempty"`
	RevokeReason   string `dynamodbav:"revoke_reason,omitempty"`
	Enforcement    string `dynamodbav:"revoke_enforcement,omitempty"`
}

func (s SessionRecord) item(retention time.Duration) sessionItem {
	return sessionItem{
		itemKeys: personRecordKeys(sessionKey(s.ID), kindSession, kindSession, s.Principal, s.User, s.ID, s.IssuedAt, s.ExpiresAt, retention),
		ID:       s.ID, Principal: s.Principal, User: s.User, CallerARN: s.CallerARN,
		Profile: s.Profile, RoleARN: s.RoleARN, SourceIdentity: s.SourceIdentity,
		Rule: s.Rule, Via: s.Via, ApprovalID: s.ApprovalID, BreakGlassID: s.BreakGlassID,
		RequestID: s.RequestID, SourceIP: s.SourceIP, Client: s.Client,
		IssuedAt: epoch(s.IssuedAt), ExpiresAt: epoch(s.ExpiresAt), Status: string(s.Status),
		FailureReason: s.FailureReason,
		RevokedAt:     epoch(s.RevokedAt), RevokedBy: s.RevokedBy, RevokeReason: s.RevokeReason,
		Enforcement: s.RevokeEnforcement,
	}
}

func (it sessionItem) record() SessionRecord {
	return SessionRecord{
		ID: it.ID, Principal: it.Principal, User: it.User, CallerARN: it.CallerARN,
		Profile: it.Profile, RoleARN: it.RoleARN, SourceIdentity: it.SourceIdentity,
		Rule: it.Rule, Via: it.Via, ApprovalID: it.ApprovalID, BreakGlassID: it.BreakGlassID,
		RequestID: it.RequestID, SourceIP: it.SourceIP, Client: it.Client,
		IssuedAt: fromEpoch(it.IssuedAt), ExpiresAt: fromEpoch(it.ExpiresAt), Status: SessionStatus(it.Status),
		FailureReason: it.FailureReason,
		RevokedAt:     fromEpoch(it.RevokedAt), RevokedBy: it.RevokedBy, RevokeReason: it.RevokeReason,
		RevokeEnforcement: it.Enforcement,
	}
}

type decisionItem struct {
	Approver string `dynamodbav:"approver"`
	Approve  bool   `dynamodbav:"approve"`
	Comment  string `dynamodbav:"comment,omitempty"`
	At       int64  `dynamodbav:"at"`
}

type approvalItem struct {
	itemKeys
	Version         int            `dynamodbav:"version"` // optimistic concurrency
	ID              string         `dynamodbav:"approval_id"`
	Status          string         `dynamodbav:"status"`
	Principal       string         `dynamodbav:"principal"`
	User            string         `dynamodbav:"user,omitempty"`
	Profile         string         `dynamodbav:"profile"`
	Rule            string         `dynamodbav:"rule,omitempty"`
	Justification   string         `dynamodbav:"justification,omitempty"`
	DurationSeconds int            `dynamodbav:"duration_seconds,omitempty"`
	MinApprovals    int            `dynamodbav:"min_approvals"`
	CreatedAt       int64          `dynamodbav:"created_at"`
	ExpiresAt       int64          `dynamodbav:"expires_at"`
	Decisions       []decisionItem `dynamodbav:"decisions,omitempty"`
	DecidedAt       int64          `dynamodbav:"decided_at,omitempty"`
	CancelledBy     string         `dynamodbav:"cancelled_by,omitempty"`
	UsedAt          int64          `dynamodbav:"used_at,omitempty"`
	UsedBySession   string         `dynamodbav:"used_by_session,omitempty"`
}

func (a ApprovalRequest) item(version int, retention time.Duration) approvalItem {
	it := approvalItem{
		itemKeys: personRecordKeys(approvalKey(a.ID), kindApproval, approvalStatusPK(a.Status), a.Principal, a.User, a.ID, a.CreatedAt, a.ExpiresAt, retention),
		Version:  version, ID: a.ID, Status: string(a.Status),
		Principal: a.Principal, User: a.User, Profile: a.Profile, Rule: a.Rule,
		Justification: a.Justification, DurationSeconds: a.DurationSeconds, MinApprovals: a.MinApprovals,
		CreatedAt: epoch(a.CreatedAt), ExpiresAt: epoch(a.ExpiresAt), DecidedAt: epoch(a.DecidedAt),
		CancelledBy: a.CancelledBy, UsedAt: epoch(a.UsedAt), UsedBySession: a.UsedBySession,
	}
	for _, d := range a.Decisions {
		it.Decisions = append(it.Decisions, decisionItem{d.Approver, d.Approve, d.Comment, epoch(d.At)})
	}
	return it
}

func (it approvalItem) record() ApprovalRequest {
	a := ApprovalRequest{
		ID: it.ID, Status: ApprovalStatus(it.Status),
		Principal: it.Principal, User: it.User, Profile: it.Profile, Rule: it.Rule,
		Justification: it.Justification, DurationSeconds: it.DurationSeconds, MinApprovals: it.MinApprovals,
		CreatedAt: fromEpoch(it.CreatedAt), ExpiresAt: fromEpoch(it.ExpiresAt), DecidedAt: fromEpoch(it.DecidedAt),
		CancelledBy: it.CancelledBy, UsedAt: fromEpoch(it.UsedAt), UsedBySession: it.UsedBySession,
	}
	for _, d := range it.Decisions {
		a.Decisions = append(a.Decisions, Decision{d.Approver, d.Approve, d.Comment, fromEpoch(d.At)})
	}
	return a
}

type breakGlassItem struct {
	itemKeys
	ID              string `dynamodbav:"event_id"`
	Status          string `dynamodbav:"status"`
	Principal       string `dynamodbav:"principal"`
	User            string `dynamodbav:"user,omitempty"`
	Profile         string `dynamodbav:"profile"`
	ReasonCode      string `dynamodbav:"reason_code,omitempty"`
	Justification   string `dynamodbav:"justification,omitempty"`
	DurationSeconds int    `dynamodbav:"duration_seconds,omitempty"`
	OpenedAt        int64  `dynamodbav:"opened_at"`
	ExpiresAt       int64  `dynamodbav:"expires_at"`
	ClosedAt        int64  `dynamodbav:"closed_at,omitempty"`
	ClosedBy        string `dynamodbav:"closed_by,omitempty"`
	CloseComment    string `dynamodbav:"close_comment,omitempty"`
}

func (e BreakGlassEvent) item(retention time.Duration) breakGlassItem {
	return breakGlassItem{
		itemKeys: personRecordKeys(breakGlassKey(e.ID), kindBreakGlass, kindBreakGlass, e.Principal, e.User, e.ID, e.OpenedAt, e.ExpiresAt, retention),
		ID:       e.ID, Status: string(e.Status), Principal: e.Principal, User: e.User, Profile: e.Profile,
		ReasonCode: e.ReasonCode, Justification: e.Justification, DurationSeconds: e.DurationSeconds,
		OpenedAt: epoch(e.OpenedAt), ExpiresAt: epoch(e.ExpiresAt),
		ClosedAt: epoch(e.ClosedAt), ClosedBy: e.ClosedBy, CloseComment: e.CloseComment,
	}
}

func (it breakGlassItem) record() BreakGlassEvent {
	return BreakGlassEvent{
		ID: it.ID, Status: BreakGlassStatus(it.Status), Principal: it.Principal, User: it.User, Profile: it.Profile,
		ReasonCode: it.ReasonCode, Justification: it.Justification, DurationSeconds: it.DurationSeconds,
		OpenedAt: fromEpoch(it.OpenedAt), ExpiresAt: fromEpoch(it.ExpiresAt),
		ClosedAt: fromEpoch(it.ClosedAt), ClosedBy: it.ClosedBy, CloseComment: it.CloseComment,
	}
}

// pointerItem is a pending-approval pointer or an active break-glass lock:
// it names the one item that holds a person's slot for a profile until
// ExpiresAt.
type pointerItem struct {
	itemKeys
	Target    string `dynamodbav:"target_id"`
	ExpiresAt int64  `dynamodbav:"expires_at"`
}

func pointer(k key, kind, target string, expires time.Time) pointerItem {
	return pointerItem{
		itemKeys:  itemKeys{PK: k.pk, SK: k.sk, TTL: expires.Unix(), Kind: kind},
		Target:    target,
		ExpiresAt: expires.Unix(),
	}
}

type rateItem struct {
	itemKeys
	Count int `dynamodbav:"count"`
}

type idemItem struct {
	itemKeys
	Principal   string `dynamodbav:"principal"`
	User        string `dynamodbav:"user,omitempty"`
	Key         string `dynamodbav:"idempotency_key"`
	RequestHash string `dynamodbav:"request_hash"`
	StatusCode  int    `dynamodbav:"status_code"`
	Body        []byte `dynamodbav:"body"`
	CreatedAt   int64  `dynamodbav:"created_at"`
	ExpiresAt   int64  `dynamodbav:"expires_at"`
}

func (r IdempotencyRecord) item() idemItem {
	k := idemKey(r.Principal, r.User, r.Key)
	return idemItem{
		itemKeys:  itemKeys{PK: k.pk, SK: k.sk, TTL: r.ExpiresAt.Unix(), Kind: kindIdem},
		Principal: r.Principal, User: r.User, Key: r.Key, RequestHash: r.RequestHash,
		StatusCode: r.StatusCode, Body: r.Body, CreatedAt: epoch(r.CreatedAt), ExpiresAt: epoch(r.ExpiresAt),
	}
}

func (it idemItem) record() IdempotencyRecord {
	return IdempotencyRecord{
		Principal: it.Principal, User: it.User, Key: it.Key, RequestHash: it.RequestHash,
		StatusCode: it.StatusCode, Body: it.Body, CreatedAt: fromEpoch(it.CreatedAt), ExpiresAt: fromEpoch(it.ExpiresAt),
	}
}

// blockItem is a re-vending block: one per person and profile.
type blockItem struct {
	itemKeys
	Principal string `dynamodbav:"principal"`
	User      string `dynamodbav:"user,omitempty"`
	Profile   string `dynamodbav:"profile"`
	Until     int64  `dynamodbav:"expires_at"`
	By        string `dynamodbav:"blocked_by,omitempty"`
	Reason    string `dynamodbav:"reason,omitempty"`
	SessionID string `dynamodbav:"session_id,omitempty"`
	CreatedAt int64  `dynamodbav:"created_at"`
}

func (b Block) item() blockItem {
	k := blockKey(b.Principal, b.User, b.Profile)
	return blockItem{
		itemKeys:  itemKeys{PK: k.pk, SK: k.sk, TTL: b.Until.Unix(), Kind: kindBlock},
		Principal: b.Principal, User: b.User, Profile: b.Profile, Until: epoch(b.Until),
		By: b.By, Reason: b.Reason, SessionID: b.SessionID, CreatedAt: epoch(b.CreatedAt),
	}
}

func (it blockItem) record() Block {
	return Block{
		Principal: it.Principal, User: it.User, Profile: it.Profile, Until: fromEpoch(it.Until),
		By: it.By, Reason: it.Reason, SessionID: it.SessionID, CreatedAt: fromEpoch(it.CreatedAt),
	}
}

// leaseItem is a lease: one per name. Its ttl is its expiry, so DynamoDB
// deletes lapsed leases; AcquireLease never relies on that.
type leaseItem struct {
	itemKeys
	Name       string `dynamodbav:"lease_name"`
	Owner      string `dynamodbav:"owner"`
	ExpiresAt  int64  `dynamodbav:"expires_at"`
	AcquiredAt int64  `dynamodbav:"acquired_at"`
}

func newLeaseItem(name, owner string, until, now time.Time) leaseItem {
	k := leaseKey(name)
	return leaseItem{
		itemKeys: itemKeys{PK: k.pk, SK: k.sk, TTL: until.Unix(), Kind: kindLease},
		Name:     name, Owner: owner, ExpiresAt: until.Unix(), AcquiredAt: epoch(now),
	}
}
