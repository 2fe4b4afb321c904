package impact

import (
	"cmp"
	"maps"
	"slices"
	"time"
)

// Report is the result of an analysis. JSON is its machine-readable form
// (`policy impact --format json`).
type Report struct {
	ProposedSHA256 string `json:"proposed_sha256"`
	BaselineSHA256 string `json:"baseline_sha256,omitempty"`
	// ComparedWith is "baseline" or "recorded" (the logged decisions).
	ComparedWith string `json:"compared_with"`
	// ReferenceSHA256 is the policy the comparison is about: the baseline,
	// or without one the policy of the newest recorded decision (the
	// deployed one).
	ReferenceSHA256 string    `json:"reference_sha256,omitempty"`
	From            time.Time `json:"from,omitzero"`
	To              time.Time `json:"to,omitzero"`

	Events  int `json:"events"`  // decision events read
	Skipped int `json:"skipped"` // events that record no policy evaluation
	// Total is the number of requests replayed: Unchanged + Changed +
	// NotEvaluable.Count, plus OtherPolicy.Count without a baseline.
	Total       int            `json:"total"`
	Unchanged   int            `json:"unchanged"`
	Changed     int            `json:"changed"`
	Transitions map[string]int `json:"transitions"`
	Details     []Detail       `json:"details"`
	// NotEvaluable are the requests the proposed policy cannot evaluate
	// at all (profile removed, caller unparseable); ByRule holds the cause.
	NotEvaluable Detail `json:"not_evaluable"`
	// OtherPolicy are the requests recorded under another policy than the
	// reference. Without a baseline their recorded decisions come from an
	// older policy, so their transitions are counted here and not above;
	// with a baseline they are replayed like the others and only counted.
	OtherPolicy OtherPolicy `json:"recorded_under_other_policy"`
}

// OtherPolicy counts requests recorded under other policies.
type OtherPolicy struct {
	Count       int            `json:"count"`
	SHA256s     []string       `json:"policy_sha256s"`
	Transitions map[string]int `json:"transitions,omitempty"`
}

// Detail is one transition's requests, grouped.
type Detail struct {
	Transition  string    `json:"transition,omitempty"`
	Count       int       `json:"count"`
	ByRule      []Count   `json:"by_rule"`
	ByProfile   []Count   `json:"by_profile"`
	ByPrincipal []Count   `json:"by_principal"`
	Examples    []Example `json:"examples"`
}

// Count is one group of a transition.
type Count struct {
	Key   string `json:"key"`
	Count int    `json:"count"`
}

// Restricting is the number of requests whose transition takes access
// away or shortens it.
func (r *Report) Restricting() int {
	n := 0
	for name, c := range r.Transitions {
		if Restricting(name) {
			n += c
		}
	}
	return n
}

// LostAccess is the number of requests that lose access: allow->deny,
// allow->require_approval, require_approval->deny, or not evaluable by the
// proposed policy (the service would deny them).
func (r *Report) LostAccess() int {
	return r.Transitions[AllowToDeny] + r.Transitions[AllowToRequireApproval] + r.Transitions[RequireApprovalToDeny] + r.NotEvaluable.Count
}

// Report merges what every goroutine replayed.
func (a *Analyzer) Report() *Report {
	top := a.opts.Top
	r := &Report{ProposedSHA256: a.opts.Proposed.SHA256(), ComparedWith: "recorded", Transitions: map[string]int{},
		Details: []Detail{}, OtherPolicy: OtherPolicy{SHA256s: []string{}}}
	byHash := map[string]*tally{}
	for _, s := range a.shards {
		r.Events += s.events
		r.Skipped += s.skipped
		for h, t := range s.byHash {
			if byHash[h] == nil {
				byHash[h] = &tally{transitions: map[string]*transition{}}
			}
			byHash[h].merge(t, top)
		}
	}
	ref := ""
	if a.opts.Baseline != nil {
		r.BaselineSHA256, r.ComparedWith = a.opts.Baseline.SHA256(), "baseline"
		ref = r.BaselineSHA256
	} else {
		var newest *tally
		for h, t := range byHash {
			if newest == nil || later(t.latest, t.latestID, newest.latest, newest.latestID) {
				newest, ref = t, h
			}
		}
	}
	r.ReferenceSHA256 = ref
	main := &tally{transitions: map[string]*transition{}}
	other := &tally{transitions: map[string]*transition{}}
	for _, h := range slices.Sorted(maps.Keys(byHash)) {
		t := byHash[h]
		r.Total += t.total
		if h != ref {
			r.OtherPolicy.Count += t.total
			r.OtherPolicy.SHA256s = append(r.OtherPolicy.SHA256s, h)
			if a.opts.Baseline == nil {
				other.merge(t, top)
				continue
			}
		}
		main.merge(t, top)
	}
	// Without a baseline, a request the proposed policy cannot evaluate is
	// reported as such whatever policy recorded it.
	if other.notEvaluable != nil {
		r.OtherPolicy.Count -= other.notEvaluable.count
		if main.notEvaluable == nil {
			main.notEvaluable = newTransition()
		}
		main.notEvaluable.merge(other.notEvaluable, top)
	}
	if a.opts.Baseline == nil && r.OtherPolicy.Count > 0 {
		r.OtherPolicy.Transitions = map[string]int{}
		for name, tr := range other.transitions {
			r.OtherPolicy.Transitions[name] = tr.count
		}
	}
	r.From, r.To = main.from, main.to
	if other.total > 0 {
		if r.From.IsZero() || other.from.Before(r.From) {
			r.From = other.from
		}
		if other.to.After(r.To) {
			r.To = other.to
		}
	}
	r.Unchanged = main.unchanged
	for _, name := range TransitionNames {
		tr := main.transitions[name]
		if tr == nil {
			continue
		}
		r.Transitions[name] = tr.count
		r.Changed += tr.count
		d := tr.detail(top)
		d.Transition = name
		r.Details = append(r.Details, d)
	}
	r.NotEvaluable = Detail{ByRule: []Count{}, ByProfile: []Count{}, ByPrincipal: []Count{}, Examples: []Example{}}
	if main.notEvaluable != nil {
		r.NotEvaluable = main.notEvaluable.detail(top)
	}
	return r
}

func (tr *transition) detail(top int) Detail {
	return Detail{Count: tr.count, ByRule: topCounts(tr.byRule, top), ByProfile: topCounts(tr.byProfile, top),
		ByPrincipal: topCounts(tr.byPrincipal, top), Examples: slices.Clone(tr.examples)}
}

// topCounts returns the n largest groups, largest first, ties by key.
func topCounts(m map[string]int, n int) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{k, v})
	}
	slices.SortFunc(out, func(a, b Count) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}
