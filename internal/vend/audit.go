package vend

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"
)

// Audit event types: every state change the service makes emits one
// structured audit event (log field "audit": true, "event": the type) and,
// when a topic is configured, one notification.
const (
	EventApprovalRequested = "approval_requested"
	EventApprovalDecided   = "approval_decided" // an approve or deny (the decision says which)
	EventApprovalCancelled = "approval_cancelled"
	EventApprovalExpired   = "approval_expired"
	EventBreakGlassOpened  = "break_glass_opened"
	EventBreakGlassClosed  = "break_glass_closed"
	EventSessionRevoked    = "session_revoked"
	// EventRevocationFallback: a revocation did not fit the role's
	// revocation policy, so the revoker wrote a token-issue-time cut-off
	// that denies every session of the role issued before it.
	EventRevocationFallback = "revocation_fallback"
)

// MetricBreakGlass counts break-glass events (dimension Event: opened or
// closed); the module's alarms watch it.
const MetricBreakGlass = "BreakGlass"

// Notification is one state change, as the audit log and the SNS topic
// carry it: IDs, people, profile, reasons. Never credentials.
type Notification struct {
	Event         string    `json:"event"`
	At            time.Time `json:"at"`
	RequestID     string    `json:"request_id,omitempty"`
	Actor         string    `json:"actor"`               // who made the change (identity)
	Principal     string    `json:"principal,omitempty"` // whose approval, event or session
	User          string    `json:"user,omitempty"`
	Profile       string    `json:"profile,omitempty"`
	ApprovalID    string    `json:"approval_id,omitempty"`
	EventID       string    `json:"event_id,omitempty"`
	SessionID     string    `json:"session_id,omitempty"`
	Status        string    `json:"status,omitempty"`
	Decision      string    `json:"decision,omitempty"` // approve or deny
	ReasonCode    string    `json:"reason_code,omitempty"`
	Justification string    `json:"justification,omitempty"`
	Comment       string    `json:"comment,omitempty"`
	ExpiresAt     time.Time `json:"expires_at,omitzero"`
	Enforcement   string    `json:"enforcement,omitempty"`
	RoleARN       string    `json:"role_arn,omitempty"`
	// TokenIssueCutoff: every session of RoleARN issued before it is
	// denied (revocation_fallback).
	TokenIssueCutoff time.Time `json:"token_issue_cutoff,omitzero"`
	BlockedUntil     time.Time `json:"blocked_until,omitzero"`

	// Of an approval request: the rule that asked for it and the
	// requested session duration.
	Rule            string `json:"rule,omitempty"`
	DurationSeconds int64  `json:"duration_seconds,omitempty"`
}

// Notifier publishes notifications (SNS in production).
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// audit records a committed state change: the audit log event (WARN for
// break-glass, INFO otherwise), the BreakGlass metric, then the
// notification. A failed notification is logged and never fails the
// request: the change is already committed.
func (s *Service) audit(ctx context.Context, c *call, n Notification) {
	n.At, n.RequestID = s.d.Now().UTC(), c.requestID
	if c.caller != nil {
		n.Actor = c.caller.Identity()
	}
	level := slog.LevelInfo
	if n.Event == EventRevocationFallback {
		level = slog.LevelWarn
	}
	if n.Event == EventBreakGlassOpened || n.Event == EventBreakGlassClosed {
		level = slog.LevelWarn
	}
	s.auditMetric(n.Event)
	b, _ := json.Marshal(n)
	var fields map[string]any
	_ = json.Unmarshal(b, &fields)
	attrs := []slog.Attr{slog.Bool("audit", true)}
	for _, k := range []string{"event", "at", "request_id", "actor", "principal", "user", "profile", "approval_id", "event_id",
		"session_id", "status", "decision", "reason_code", "justification", "comment", "expires_at", "enforcement", "role_arn", "token_issue_cutoff", "blocked_until", "rule", "duration_seconds"} {
		if v, ok := fields[k]; ok {
			attrs = append(attrs, slog.Any(k, v))
		}
	}
	s.d.Log.LogAttrs(ctx, level, "audit", attrs...)
	if s.d.Notifier == nil {
		return
	}
	if err := s.d.Notifier.Notify(context.WithoutCancel(ctx), n); err != nil {
		s.d.Log.Warn("notification failed", "event", n.Event, "request_id", c.requestID, "cause", awsErrorCode(err), "error", shortError(err))
	}
}

// shortError is an error's text cut to a log-friendly length.
func shortError(err error) string {
	msg := err.Error()
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		msg = ae.ErrorCode()
	}
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}
