package store

import (
	"errors"
	"fmt"
	"time"
)

// The rules both implementations share: how a new record is checked and
// normalised, and how an approval moves between states. Dynamo and Memory
// differ only in how they make the change atomic.

// ErrInvalid reports a record or argument the store refuses (a bug in the
// caller, not a state of the table).
var ErrInvalid = errors.New("store: invalid argument")

// maxSessionLifetime is the longest STS session; ListSessions relies on it
// to read only recent sessions for ActiveOnly.
const maxSessionLifetime = 12 * time.Hour

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func checkRate(limit int, window time.Duration) error {
	if limit < 1 || window < time.Second || window%time.Second != 0 {
		return invalid("rate limit %d per %s: want at least 1 per a whole number of seconds", limit, window)
	}
	return nil
}

func newSession(s SessionRecord) (SessionRecord, error) {
	s.IssuedAt, s.ExpiresAt = stamp(s.IssuedAt), stamp(s.ExpiresAt)
	s.Status = SessionActive
	s.RevokedAt, s.RevokedBy, s.RevokeReason, s.FailureReason = time.Time{}, "", "", ""
	switch {
	case s.ID == "" || s.Principal == "" || s.Profile == "":
		return s, invalid("session needs an ID, a principal and a profile")
	case s.IssuedAt.IsZero() || !s.ExpiresAt.After(s.IssuedAt):
		return s, invalid("session %s: expires_at must follow issued_at", s.ID)
	case s.ExpiresAt.Sub(s.IssuedAt) > maxSessionLifetime:
		return s, invalid("session %s lasts longer than %s", s.ID, maxSessionLifetime)
	}
	return s, nil
}

func newApproval(a ApprovalRequest, now time.Time) (ApprovalRequest, error) {
	a.CreatedAt, a.ExpiresAt = stamp(a.CreatedAt), stamp(a.ExpiresAt)
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now
	}
	a.Status = ApprovalPending
	a.Decisions, a.DecidedAt, a.CancelledBy, a.UsedAt, a.UsedBySession = nil, time.Time{}, "", time.Time{}, ""
	switch {
	case a.ID == "" || a.Principal == "" || a.Profile == "":
		return a, invalid("approval needs an ID, a principal and a profile")
	case a.MinApprovals < 1:
		return a, invalid("approval %s: min_approvals must be at least 1", a.ID)
	case !a.ExpiresAt.After(now):
		return a, invalid("approval %s: expires_at must be in the future", a.ID)
	}
	return a, nil
}

func newBreakGlass(e BreakGlassEvent, now time.Time) (BreakGlassEvent, error) {
	e.OpenedAt, e.ExpiresAt = stamp(e.OpenedAt), stamp(e.ExpiresAt)
	if e.OpenedAt.IsZero() {
		e.OpenedAt = now
	}
	e.Status = BreakGlassActive
	e.ClosedAt, e.ClosedBy, e.CloseComment = time.Time{}, "", ""
	switch {
	case e.ID == "" || e.Principal == "" || e.Profile == "":
		return e, invalid("break-glass event needs an ID, a principal and a profile")
	case !e.ExpiresAt.After(now):
		return e, invalid("break-glass event %s: expires_at must be in the future", e.ID)
	}
	return e, nil
}

func newIdempotency(r IdempotencyRecord, now time.Time) (IdempotencyRecord, error) {
	r.CreatedAt, r.ExpiresAt = stamp(r.CreatedAt), stamp(r.ExpiresAt)
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	if len(r.Body) == 0 {
		r.Body = nil
	}
	switch {
	case r.Key == "" || r.Principal == "":
		return r, invalid("idempotency record needs a key and a principal")
	case !r.ExpiresAt.After(now):
		return r, invalid("idempotency record %q: expires_at must be in the future", r.Key)
	}
	return r, nil
}

// approvalChange changes a copy of an approval as of now, or refuses.
type approvalChange func(a *ApprovalRequest, now time.Time) error

func decide(d Decision) approvalChange {
	return func(a *ApprovalRequest, now time.Time) error {
		if d.Approver == "" {
			return invalid("decision needs an approver")
		}
		if err := a.mustBe(ApprovalPending, now); err != nil {
			return err
		}
		approvals := 0
		for _, prev := range a.Decisions {
			// Distinct people, not distinct roles: one trusted user
			// approving through two permission sets counts once.
			if Person(prev.Approver) == Person(d.Approver) {
				return fmt.Errorf("%w: %s already decided approval %s", ErrConflict, d.Approver, a.ID)
			}
			if prev.Approve {
				approvals++
			}
		}
		d.At = now
		a.Decisions = append(a.Decisions, d)
		switch {
		case !d.Approve:
			a.Status, a.DecidedAt = ApprovalDenied, now
		case approvals+1 >= a.MinApprovals:
			a.Status, a.DecidedAt = ApprovalApproved, now
		}
		return nil
	}
}

// mustBe is a conflict unless the approval is in status want at now.
func (a *ApprovalRequest) mustBe(want ApprovalStatus, now time.Time) error {
	if got := a.at(now).Status; got != want {
		return fmt.Errorf("%w: approval %s is %s", ErrConflict, a.ID, got)
	}
	return nil
}

func cancel(by string) approvalChange {
	return func(a *ApprovalRequest, now time.Time) error {
		if err := a.mustBe(ApprovalPending, now); err != nil {
			return err
		}
		a.Status, a.DecidedAt, a.CancelledBy = ApprovalCancelled, now, by
		return nil
	}
}

func markUsed(sessionID string) approvalChange {
	return func(a *ApprovalRequest, now time.Time) error {
		if err := a.mustBe(ApprovalApproved, now); err != nil {
			return err
		}
		a.Status, a.UsedAt, a.UsedBySession = ApprovalUsed, now, sessionID
		return nil
	}
}

// expire stores the expiry of a pending or approved request past its
// ExpiresAt; ErrConflict for any other (including one already stored).
func expire(a *ApprovalRequest, now time.Time) error {
	if (a.Status != ApprovalPending && a.Status != ApprovalApproved) || a.at(now).Status != ApprovalExpired {
		return fmt.Errorf("%w: approval %s is %s", ErrConflict, a.ID, a.at(now).Status)
	}
	if a.DecidedAt.IsZero() {
		a.DecidedAt = a.ExpiresAt // it left pending when it expired
	}
	a.Status = ApprovalExpired
	return nil
}

func closeEvent(e *BreakGlassEvent, by, comment string, now time.Time) error {
	if e.at(now).Status != BreakGlassActive {
		return fmt.Errorf("%w: break-glass event %s is %s", ErrConflict, e.ID, e.at(now).Status)
	}
	e.Status, e.ClosedAt, e.ClosedBy, e.CloseComment = BreakGlassClosed, now, by, comment
	return nil
}

func newBlock(b Block, now time.Time) (Block, error) {
	b.Until, b.CreatedAt = stamp(b.Until), stamp(b.CreatedAt)
	if b.CreatedAt.IsZero() {
		b.CreatedAt = now
	}
	switch {
	case b.Principal == "" || b.Profile == "":
		return b, invalid("block needs a principal and a profile")
	case !b.Until.After(now):
		return b, invalid("block until %s: must be in the future", b.Until.Format(time.RFC3339))
	}
	return b, nil
}

// checkVendApproved checks what VendApproved needs besides Vend's.
func checkVendApproved(s SessionRecord) error {
	if s.ApprovalID == "" {
		return invalid("session %s: VendApproved needs an approval ID", s.ID)
	}
	return nil
}

// checkLease checks AcquireLease's arguments and normalises the times:
// now to the second as the table keeps it, until rounded up to the second,
// so a lease is never shorter than asked.
func checkLease(name, owner string, until, now time.Time) (time.Time, time.Time, error) {
	if !until.Truncate(time.Second).Equal(until) {
		until = until.Truncate(time.Second).Add(time.Second)
	}
	until, now = stamp(until), stamp(now)
	switch {
	case name == "" || owner == "":
		return until, now, invalid("a lease needs a name and an owner")
	case !until.After(now):
		return until, now, invalid("lease %s: until must be after now", name)
	}
	return until, now, nil
}
