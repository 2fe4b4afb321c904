// Package report computes the usage report of a period (who got which
// access and how, what was refused and why, approvals, break-glass,
// revocations, long sessions) from the service's sessions, approvals and
// break-glass lists and its decision log, and renders it as one
// self-contained HTML file.
package report

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/client"
	"github.com/sentinel-tvm/sentinel-tvm/internal/decisionlog"
)

// LongSession is the duration above which a session is listed as long.
const LongSession = 45 * time.Minute

// Top is how many principals and users the report ranks.
const Top = 10

// Input is what a report is computed from. Lists may hold items outside
// the period; Build keeps those that belong to it.
type Input struct {
	From, To    time.Time // the period, [From, To)
	GeneratedAt time.Time
	Source      string // the TVM's URL, shown in the header
	Sessions    []client.Session
	Approvals   []client.Approval
	BreakGlass  []client.BreakGlassEvent
	// Decisions are the decision-log events; HasDecisions says whether a
	// decision log was read at all (without one, refusals are unknown).
	Decisions    []decisionlog.Event
	HasDecisions bool
	// Warnings are shown at the top of the report (e.g. a list the
	// service cut short).
	Warnings []string
}

// Count is one key and how often it occurred.
type Count struct {
	Key string
	N   int
}

// DayCounts is the number of vends of one UTC day, per profile (in the
// order of Report.Profiles).
type DayCounts struct {
	Day    time.Time
	Counts []int
	Total  int
}

// Refusal is the number of refusals with one reason (error code) and rule.
type Refusal struct {
	Reason, Rule string
	N            int
}

// ApprovalDecision is one approver's decision on one request.
type ApprovalDecision struct {
	ApprovalID, Profile, Requester string
	Approver, Decision, Comment    string
	At                             time.Time
}

// Approvals summarises the approval requests created in the period.
type Approvals struct {
	Total    int
	ByStatus []Count
	// Decided is the number of requests approved or denied, and
	// MedianToDecision and P90ToDecision the time from request to
	// decision (nearest rank); zero when none was decided.
	Decided          int
	MedianToDecision time.Duration
	P90ToDecision    time.Duration
	Decisions        []ApprovalDecision
	Denied           []client.Approval
}

// BreakGlass is one break-glass event of the period with the sessions
// vended under it.
type BreakGlass struct {
	Event    client.BreakGlassEvent
	Duration time.Duration // open until closed, expired, or the end of the period
	Sessions []client.Session
}

// Report is the computed report: every number the HTML shows.
type Report struct {
	From, To     time.Time
	GeneratedAt  time.Time
	Source       string
	Profiles     []string // profiles with vends, by name
	VendsPerDay  []DayCounts
	Vends        int
	VendsBy      []Count // per profile
	Principals   []Count // top principals by vends
	Users        []Count // top users by vends
	HasDecisions bool
	Warnings     []string
	Refusals     int
	ByReason     []Count
	ByRule       []Count
	ByReasonRule []Refusal
	Approvals    Approvals
	BreakGlass   []BreakGlass
	Revocations  []client.Session
	LongSessions []client.Session
}

// Build computes the report of in's period.
func Build(in Input) *Report {
	r := &Report{From: in.From.UTC(), To: in.To.UTC(), GeneratedAt: in.GeneratedAt.UTC(), Source: in.Source, HasDecisions: in.HasDecisions,
		Warnings: in.Warnings}
	r.vends(in.Sessions)
	r.refusals(in.Decisions)
	r.approvals(in.Approvals)
	r.breakGlass(in.BreakGlass, in.Sessions)
	for _, s := range in.Sessions {
		if !s.RevokedAt.IsZero() && inPeriod(s.RevokedAt, r) {
			r.Revocations = append(r.Revocations, s)
		}
		if vended(s) && inPeriod(s.IssuedAt, r) && SessionDuration(s) > LongSession {
			r.LongSessions = append(r.LongSessions, s)
		}
	}
	slices.SortFunc(r.Revocations, func(a, b client.Session) int { return a.RevokedAt.Compare(b.RevokedAt) })
	slices.SortFunc(r.LongSessions, func(a, b client.Session) int { return a.IssuedAt.Compare(b.IssuedAt) })
	return r
}

// inPeriod reports whether t is in the report's period [From, To).
func inPeriod(t time.Time, r *Report) bool { return !t.Before(r.From) && t.Before(r.To) }

// vended reports whether a session got credentials (a failed vend did not).
func vended(s client.Session) bool { return s.Status != "failed" && !s.IssuedAt.IsZero() }

// SessionDuration is how long a session's credentials were valid: from
// issue to expiry.
func SessionDuration(s client.Session) time.Duration { return s.ExpiresAt.Sub(s.IssuedAt) }

// day is t's UTC day.
func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func (r *Report) vends(sessions []client.Session) {
	perDay := map[time.Time]map[string]int{}
	byProfile, byPrincipal, byUser := map[string]int{}, map[string]int{}, map[string]int{}
	for _, s := range sessions {
		if !vended(s) || !inPeriod(s.IssuedAt, r) {
			continue
		}
		r.Vends++
		d := day(s.IssuedAt)
		if perDay[d] == nil {
			perDay[d] = map[string]int{}
		}
		perDay[d][s.Profile]++
		byProfile[s.Profile]++
		byPrincipal[s.Principal]++
		if s.User != "" {
			byUser[s.User]++
		}
	}
	r.Profiles = slices.Sorted(maps.Keys(byProfile))
	for d := day(r.From); d.Before(r.To); d = d.AddDate(0, 0, 1) {
		dc := DayCounts{Day: d, Counts: make([]int, len(r.Profiles))}
		for i, p := range r.Profiles {
			dc.Counts[i] = perDay[d][p]
			dc.Total += dc.Counts[i]
		}
		r.VendsPerDay = append(r.VendsPerDay, dc)
	}
	r.VendsBy = ranked(byProfile, 0)
	r.Principals = ranked(byPrincipal, Top)
	r.Users = ranked(byUser, Top)
}

// ranked sorts counts by count, then key; n > 0 keeps the first n.
func ranked(m map[string]int, n int) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{k, v})
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Or(cmp.Compare(b.N, a.N), strings.Compare(a.Key, b.Key)) })
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

// Refused reports whether a decision-log event is a refusal: the service
// answered with an error that is the caller's (a 4xx), not its own failure.
func Refused(e decisionlog.Event) bool {
	return e.ErrorCode != "" && e.Status >= 400 && e.Status < 500
}

// NoRule is the rule column of a refusal no policy rule decided (a bad
// request, a rate limit, an unknown profile).
const NoRule = "(none)"

func (r *Report) refusals(events []decisionlog.Event) {
	byReason, byRule := map[string]int{}, map[string]int{}
	pairs := map[[2]string]int{}
	for _, e := range events {
		if !Refused(e) || !inPeriod(e.Time, r) {
			continue
		}
		rule := cmp.Or(e.Rule, NoRule)
		r.Refusals++
		byReason[e.ErrorCode]++
		byRule[rule]++
		pairs[[2]string{e.ErrorCode, rule}]++
	}
	r.ByReason = ranked(byReason, 0)
	r.ByRule = ranked(byRule, 0)
	for k, n := range pairs {
		r.ByReasonRule = append(r.ByReasonRule, Refusal{Reason: k[0], Rule: k[1], N: n})
	}
	slices.SortFunc(r.ByReasonRule, func(a, b Refusal) int {
		return cmp.Or(cmp.Compare(b.N, a.N), strings.Compare(a.Reason, b.Reason), strings.Compare(a.Rule, b.Rule))
	})
}

// decidedAt is when an approval left pending by an approver's decision:
// approved (and maybe used since) or denied.
func decidedAt(a client.Approval) (time.Time, bool) {
	switch a.Status {
	case client.ApprovalApproved, client.ApprovalUsed, client.ApprovalDenied:
	default:
		return time.Time{}, false
	}
	if !a.DecidedAt.IsZero() {
		return a.DecidedAt, true
	}
	// The last decision is the one that settled the request.
	var last time.Time
	for _, d := range a.Decisions {
		if d.At.After(last) {
			last = d.At
		}
	}
	return last, !last.IsZero()
}

func (r *Report) approvals(as []client.Approval) {
	byStatus := map[string]int{}
	var waits []time.Duration
	for _, a := range as {
		if !inPeriod(a.CreatedAt, r) {
			continue
		}
		r.Approvals.Total++
		byStatus[a.Status]++
		if at, ok := decidedAt(a); ok {
			waits = append(waits, at.Sub(a.CreatedAt))
		}
		for _, d := range a.Decisions {
			r.Approvals.Decisions = append(r.Approvals.Decisions, ApprovalDecision{ApprovalID: a.ApprovalID, Profile: a.Profile,
				Requester: a.Requester, Approver: d.Approver, Decision: d.Decision, Comment: d.Comment, At: d.At})
		}
		if a.Status == client.ApprovalDenied {
			r.Approvals.Denied = append(r.Approvals.Denied, a)
		}
	}
	r.Approvals.ByStatus = ranked(byStatus, 0)
	r.Approvals.Decided = len(waits)
	r.Approvals.MedianToDecision = Percentile(waits, 50)
	r.Approvals.P90ToDecision = Percentile(waits, 90)
	slices.SortFunc(r.Approvals.Decisions, func(a, b ApprovalDecision) int { return a.At.Compare(b.At) })
	slices.SortFunc(r.Approvals.Denied, func(a, b client.Approval) int { return a.CreatedAt.Compare(b.CreatedAt) })
}

// Percentile is the p-th percentile of ds by the nearest-rank method
// (the smallest value with at least p% of the values at or below it);
// zero for none.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

func (r *Report) breakGlass(events []client.BreakGlassEvent, sessions []client.Session) {
	for _, e := range events {
		end := e.ExpiresAt
		if !e.ClosedAt.IsZero() && (end.IsZero() || e.ClosedAt.Before(end)) {
			end = e.ClosedAt
		}
		if end.IsZero() || end.After(r.To) {
			end = r.To
		}
		// An event belongs to the period when its window overlaps it.
		if e.OpenedAt.IsZero() || !e.OpenedAt.Before(r.To) || !end.After(r.From) {
			continue
		}
		bg := BreakGlass{Event: e, Duration: end.Sub(e.OpenedAt)}
		for _, s := range sessions {
			if s.BreakGlassID == e.EventID && vended(s) {
				bg.Sessions = append(bg.Sessions, s)
			}
		}
		slices.SortFunc(bg.Sessions, func(a, b client.Session) int { return a.IssuedAt.Compare(b.IssuedAt) })
		r.BreakGlass = append(r.BreakGlass, bg)
	}
	slices.SortFunc(r.BreakGlass, func(a, b BreakGlass) int { return a.Event.OpenedAt.Compare(b.Event.OpenedAt) })
}
