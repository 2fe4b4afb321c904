package vend

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
)

// ClientHeader is the request header in which a client says how it is used
// (request.client): one of policy.ClientModes. Without it the mode is
// "other"; an empty value is there, and invalid, like any other. The caller
// controls it; the service only records it.
const ClientHeader = "X-Sentinel-Client"

// clientMode reads the client mode of a request; an unknown mode is an
// invalid request.
func clientMode(req *Request) (string, *apiError) {
	v, ok := header(req, ClientHeader)
	if !ok {
		return policy.ClientOther, nil
	}
	if !policy.IsClientMode(v) {
		return "", fail(CodeInvalidRequest, "%s must be one of %s", ClientHeader, strings.Join(policy.ClientModes, ", "))
	}
	return v, nil
}

// evaluation is what a policy evaluation adds to the decision event: the
// inputs that replay needs besides the caller (docs/decision-log.md).
type evaluation struct {
	policySHA256 string
	at           time.Time
	requested    time.Duration
	approval     *policy.Grant
	breakGlass   *policy.Grant
}

// recordDecision records the policy's decision on req for the log event.
func (c *call) recordDecision(p *policy.Policy, req *policy.Request, d policy.Decision) {
	c.eval = &evaluation{policySHA256: p.SHA256(), at: req.Time, requested: req.Duration, approval: req.Approval, breakGlass: req.BreakGlass}
	c.decision, c.rule, c.reason, c.via = string(d.Effect), d.Rule, d.Reason, d.Via
	if d.Effect == policy.Allow {
		c.duration = int64(d.Duration / time.Second)
	}
}

// refuse records that the service turned the policy's allow into a deny
// (policy.Refusal) and returns the reason.
func (c *call) refuse(reason string) string {
	c.decision, c.reason, c.via, c.duration = string(policy.Deny), reason, "", 0
	return reason
}

// DecisionSchema is the version of the decision event's field set
// (docs/decision-log.md).
const DecisionSchema = 1

// logCall writes the one decision event of a request and its metrics. The
// field set is stable and documented in docs/decision-log.md; no field ever
// holds credential material (the credentials exist only in the response
// body) or free text the caller wrote.
func (s *Service) logCall(c *call, status int, aerr *apiError) {
	latency := s.d.Now().Sub(c.start)
	id := c.req.RequestContext.Identity
	at := c.start.UTC()
	if c.eval != nil {
		at = c.eval.at
	}
	attrs := []slog.Attr{
		slog.Int("schema", DecisionSchema),
		slog.String("request_time", at.Format(time.RFC3339Nano)),
		slog.String("request_id", c.requestID),
		slog.String("route", c.req.HTTPMethod+" "+c.req.Resource),
		slog.Int("status", status),
		slog.String("caller_arn", id.UserArn),
		slog.String("principal", ""),
		slog.String("user", ""),
		slog.String("user_id", id.Caller),
		slog.String("account", ""),
		slog.String("org_id", id.PrincipalOrgID),
		slog.String("source_ip", id.SourceIP),
		slog.String("client", c.client),
		slog.String("profile", c.profile),
	}
	if c.caller != nil {
		attrs[6] = slog.String("principal", c.caller.ARN)
		attrs[7] = slog.String("user", c.caller.User)
		attrs[9] = slog.String("account", c.caller.AccountID)
	}
	var requested int64
	var approval, breakGlass *policy.Grant
	sha := ""
	if c.eval != nil {
		requested, approval, breakGlass, sha = int64(c.eval.requested/time.Second), c.eval.approval, c.eval.breakGlass, c.eval.policySHA256
	}
	attrs = append(attrs, slog.Int64("requested_duration_seconds", requested), slog.Bool("approved", approval != nil))
	if approval != nil && !approval.Expires.IsZero() {
		attrs = append(attrs, slog.String("approval_expires_at", approval.Expires.UTC().Format(time.RFC3339Nano)))
	}
	attrs = append(attrs, slog.Bool("break_glass", breakGlass != nil))
	if breakGlass != nil && !breakGlass.Expires.IsZero() {
		attrs = append(attrs, slog.String("break_glass_expires_at", breakGlass.Expires.UTC().Format(time.RFC3339Nano)))
	}
	attrs = append(attrs,
		slog.String("decision", c.decision),
		slog.String("rule", c.rule),
		slog.String("reason", c.reason),
		slog.String("via", c.via),
		slog.Int64("duration_seconds", c.duration),
		slog.String("policy_sha256", sha),
		slog.String("session_id", c.sessionID),
		slog.Float64("latency_ms", float64(latency.Microseconds())/1000),
	)
	level := slog.LevelInfo
	if aerr != nil {
		attrs = append(attrs, slog.String("error_code", aerr.Code), slog.String("error", aerr.Message))
		if aerr.Cause != nil {
			attrs = append(attrs, slog.String("cause", aerr.Cause.Error()))
		}
		if status >= 500 {
			level = slog.LevelError
		}
	}
	s.d.Log.LogAttrs(context.Background(), level, "decision", attrs...)
	s.emitMetrics(c, aerr, latency)
}

// Metric names (CloudWatch namespace SentinelTVM).
const (
	MetricNamespace = "SentinelTVM"
	MetricVends     = "Vends"
	MetricDenials   = "Denials"
	MetricApprovals = "ApprovalsRequired"
	MetricThrottles = "Throttles"
	MetricErrors    = "Errors"
	MetricLatency   = "Latency"
)

// emitMetrics writes one CloudWatch embedded-metric-format record: the
// outcome counter with dimension Outcome, denials also by Reason (the
// deciding rule or error code: bounded by the policy), vends also by
// Profile, and the latency. Metrics lists every metric and dimension set.
func (s *Service) emitMetrics(c *call, aerr *apiError, latency time.Duration) {
	metric, reason := "", ""
	switch {
	case aerr == nil && c.decision == "allow":
		metric = MetricVends
	case aerr == nil:
		return // reads: no outcome metric
	case aerr.Code == CodePolicyDenied || aerr.Code == CodeSessionRevoked:
		metric, reason = MetricDenials, c.rule
		if reason == "" {
			reason = aerr.Code
		}
	case aerr.Code == CodeApprovalRequired:
		metric = MetricApprovals
	case aerr.Code == CodeRateLimited:
		metric = MetricThrottles
	case aerr.Code == CodeUnavailable || aerr.Code == CodeInternal:
		metric, reason = MetricErrors, aerr.Code
	default:
		metric, reason = MetricDenials, aerr.Code
	}
	dims := [][]string{{"Outcome"}}
	rec := map[string]any{
		"Outcome":     metric,
		metric:        1,
		MetricLatency: float64(latency.Microseconds()) / 1000,
	}
	if reason != "" {
		dims = append(dims, []string{"Outcome", "Reason"})
		rec["Reason"] = reason
	}
	if metric == MetricVends {
		// A profile the policy allowed: as many values as it has profiles.
		dims = append(dims, []string{"Outcome", "Profile"})
		rec["Profile"] = c.profile
	}
	rec["_aws"] = map[string]any{
		"Timestamp": s.d.Now().UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace":  MetricNamespace,
			"Dimensions": dims,
			"Metrics": []map[string]string{
				{"Name": metric, "Unit": "Count"},
				{"Name": MetricLatency, "Unit": "Milliseconds"},
			},
		}},
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return
	}
	s.d.Metrics.Write(append(line, '\n'))
}
