package vend

import "encoding/json"

// MetricRevocations counts revocations (dimension Event: session_revoked,
// or revocation_fallback when a revocation had to fall back to a weaker
// enforcement).
const MetricRevocations = "Revocations"

// MetricSpec is one metric the handler emits in namespace MetricNamespace:
// its name, unit, and every dimension set it is published with.
type MetricSpec struct {
	Name       string
	Unit       string
	Dimensions [][]string
}

// Metrics is every metric the handler emits; the module's dashboard is
// checked against it, and the handler's tests check every record against it.
// Dimension values are bounded: Outcome by the metric names, Reason by the
// policy's rule names and the error codes, Profile by the policy's
// profiles (only vends carry it, after the policy allowed the profile),
// Event by the audit event names.
var Metrics = []MetricSpec{
	{Name: MetricVends, Unit: "Count", Dimensions: [][]string{{"Outcome"}, {"Outcome", "Profile"}}},
	{Name: MetricDenials, Unit: "Count", Dimensions: [][]string{{"Outcome"}, {"Outcome", "Reason"}}},
	{Name: MetricApprovals, Unit: "Count", Dimensions: [][]string{{"Outcome"}}},
	{Name: MetricThrottles, Unit: "Count", Dimensions: [][]string{{"Outcome"}}},
	{Name: MetricErrors, Unit: "Count", Dimensions: [][]string{{"Outcome"}, {"Outcome", "Reason"}}},
	{Name: MetricLatency, Unit: "Milliseconds", Dimensions: [][]string{{"Outcome"}, {"Outcome", "Reason"}, {"Outcome", "Profile"}}},
	{Name: MetricBreakGlass, Unit: "Count", Dimensions: [][]string{{"Event"}}},
	{Name: MetricRevocations, Unit: "Count", Dimensions: [][]string{{"Event"}}},
}

// auditMetrics maps the audit events that are counted to their metric.
var auditMetrics = map[string]string{
	EventBreakGlassOpened: MetricBreakGlass,
	EventBreakGlassClosed: MetricBreakGlass,
	EventSessionRevoked:   MetricRevocations,
	"revocation_fallback": MetricRevocations,
}

// auditMetric writes the EMF record of a counted audit event: its metric,
// dimension Event.
func (s *Service) auditMetric(event string) {
	metric, ok := auditMetrics[event]
	if !ok {
		return
	}
	rec := map[string]any{
		"Event": event,
		metric:  1,
		"_aws": map[string]any{
			"Timestamp": s.d.Now().UnixMilli(),
			"CloudWatchMetrics": []map[string]any{{
				"Namespace":  MetricNamespace,
				"Dimensions": [][]string{{"Event"}},
				"Metrics":    []map[string]string{{"Name": metric, "Unit": "Count"}},
			}},
		},
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return
	}
	s.d.Metrics.Write(append(line, '\n'))
}
