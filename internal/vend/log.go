package vend

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"
)

// logCall writes the one decision event of a request and its metrics. The
// field set is stable; no field ever holds credential material (the
// credentials exist only in the response body).
func (s *Service) logCall(c *call, status int, aerr *apiError) {
	latency := s.d.Now().Sub(c.start)
	attrs := []slog.Attr{
		slog.String("request_id", c.requestID),
		slog.String("route", c.req.HTTPMethod+" "+c.req.Resource),
		slog.Int("status", status),
		slog.String("principal", ""),
		slog.String("user", ""),
		slog.String("caller_arn", c.req.RequestContext.Identity.UserArn),
		slog.String("source_ip", c.req.RequestContext.Identity.SourceIP),
		slog.String("profile", c.profile),
		slog.String("decision", c.decision),
		slog.String("rule", c.rule),
		slog.String("reason", c.reason),
		slog.String("via", c.via),
		slog.String("session_id", c.sessionID),
		slog.Int64("duration_seconds", c.duration),
		slog.Float64("latency_ms", float64(latency.Microseconds())/1000),
	}
	if c.caller != nil {
		attrs[3] = slog.String("principal", c.caller.ARN)
		attrs[4] = slog.String("user", c.caller.User)
	}
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
