package impact

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// label is a transition as people read it.
func label(name string) string {
	switch name {
	case DurationShortened:
		return "duration shortened"
	case DurationLengthened:
		return "duration lengthened"
	case RuleChanged:
		return "rule changed, outcome unchanged"
	}
	return strings.ReplaceAll(strings.ReplaceAll(name, "->", " → "), "_", " ")
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func (r *Report) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Replayed %d recorded requests", r.Total)
	if !r.From.IsZero() {
		fmt.Fprintf(&b, " (%s to %s)", r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&b, " against the proposed policy %s, compared with ", shortSHA(r.ProposedSHA256))
	if r.ComparedWith == "baseline" {
		fmt.Fprintf(&b, "the baseline policy %s.", shortSHA(r.BaselineSHA256))
	} else {
		fmt.Fprintf(&b, "the recorded decisions (deployed policy %s).", shortSHA(r.ReferenceSHA256))
	}
	return b.String()
}

func (o Outcome) String() string {
	if o.Decision == "" {
		return o.Reason
	}
	s := o.Decision
	if o.Rule != "" {
		s += " by " + o.Rule
	}
	if o.Via != "" && o.Via != "policy" {
		s += " via " + o.Via
	}
	if o.DurationSeconds > 0 {
		s += " for " + shortDuration(time.Duration(o.DurationSeconds)*time.Second)
	}
	if o.Reason != "" {
		s += ": " + o.Reason
	}
	return s
}

func who(ex Example) string { return principalKey(ex.Principal, ex.User) }

func groups(cs []Count) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s (%d)", c.Key, c.Count)
	}
	return strings.Join(parts, ", ")
}

// WriteText writes the report for a terminal.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintln(&b, r.summary())
	fmt.Fprintf(&b, "\n%-34s %8d\n", "unchanged", r.Unchanged)
	for _, d := range r.Details {
		fmt.Fprintf(&b, "%-34s %8d\n", label(d.Transition), d.Count)
	}
	fmt.Fprintf(&b, "%-34s %8d\n", "not evaluable by the new policy", r.NotEvaluable.Count)
	if r.OtherPolicy.Count > 0 {
		fmt.Fprintf(&b, "%-34s %8d\n", "recorded under another policy", r.OtherPolicy.Count)
	}
	if r.Skipped > 0 {
		fmt.Fprintf(&b, "(%d events recorded no policy evaluation and were skipped)\n", r.Skipped)
	}
	for _, d := range r.sections() {
		fmt.Fprintf(&b, "\n%s: %d\n", label(d.Transition), d.Count)
		fmt.Fprintf(&b, "  %-13s %s\n", "by "+groupedBy(d)+":", groups(d.ByRule))
		fmt.Fprintf(&b, "  %-13s %s\n", "by profile:", groups(d.ByProfile))
		fmt.Fprintf(&b, "  %-13s %s\n", "by principal:", groups(d.ByPrincipal))
		for _, ex := range d.Examples {
			fmt.Fprintf(&b, "  - %s %s %s\n      before: %s\n      after:  %s\n",
				ex.Time.UTC().Format(time.RFC3339), who(ex), ex.Profile, ex.Before, ex.After)
		}
	}
	if len(r.OtherPolicy.Transitions) > 0 {
		fmt.Fprintf(&b, "\nRecorded under another policy (%d; not counted above):", r.OtherPolicy.Count)
		b.WriteString(r.otherPolicyTransitions() + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// notEvaluable is the transition name of the not-evaluable section.
const notEvaluable = "not evaluable"

// sections returns the details both formats list: one a transition, then
// the requests the new policy cannot evaluate, when there are any.
func (r *Report) sections() []Detail {
	details := r.Details
	if r.NotEvaluable.Count > 0 {
		ne := r.NotEvaluable
		ne.Transition = notEvaluable
		details = append(details[:len(details):len(details)], ne)
	}
	return details
}

// groupedBy names what a section's ByRule groups: the rule that decided,
// or for the not-evaluable section the cause.
func groupedBy(d Detail) string {
	if d.Transition == notEvaluable {
		return "cause"
	}
	return "rule"
}

// otherPolicyTransitions lists the transitions recorded under another
// policy, in TransitionNames order: " NAME N;" each.
func (r *Report) otherPolicyTransitions() string {
	var b strings.Builder
	for _, name := range TransitionNames {
		if n := r.OtherPolicy.Transitions[name]; n > 0 {
			fmt.Fprintf(&b, " %s %d;", label(name), n)
		}
	}
	return b.String()
}

// mdCell escapes text for a Markdown table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func mdGroups(cs []Count) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("`%s` (%d)", strings.ReplaceAll(c.Key, "`", "'"), c.Count)
	}
	return strings.Join(parts, ", ")
}

// WriteMarkdown writes the report as a pull-request comment.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("### Policy impact\n\n")
	b.WriteString(r.summary() + "\n\n")
	if n := r.Restricting(); n > 0 {
		fmt.Fprintf(&b, "**%d requests would lose access or get shorter sessions.**\n\n", n)
	} else if r.Changed == 0 && r.NotEvaluable.Count == 0 {
		b.WriteString("No recorded request would be decided differently.\n\n")
	}
	b.WriteString("| Change | Requests |\n|---|---:|\n")
	for _, d := range r.Details {
		fmt.Fprintf(&b, "| %s | %d |\n", label(d.Transition), d.Count)
	}
	fmt.Fprintf(&b, "| unchanged | %d |\n", r.Unchanged)
	fmt.Fprintf(&b, "| not evaluable by the new policy | %d |\n", r.NotEvaluable.Count)
	if r.OtherPolicy.Count > 0 {
		fmt.Fprintf(&b, "| recorded under another policy | %d |\n", r.OtherPolicy.Count)
	}
	for _, d := range r.sections() {
		fmt.Fprintf(&b, "\n<details><summary>%s: %d</summary>\n\n", label(d.Transition), d.Count)
		fmt.Fprintf(&b, "- By %s: %s\n- By profile: %s\n- By principal: %s\n\n", groupedBy(d), mdGroups(d.ByRule), mdGroups(d.ByProfile), mdGroups(d.ByPrincipal))
		b.WriteString("| Time | Principal | Profile | Before | After |\n|---|---|---|---|---|\n")
		for _, ex := range d.Examples {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", ex.Time.UTC().Format(time.RFC3339), mdCell(who(ex)), mdCell(ex.Profile),
				mdCell(ex.Before.String()), mdCell(ex.After.String()))
		}
		b.WriteString("\n</details>\n")
	}
	if len(r.OtherPolicy.Transitions) > 0 {
		fmt.Fprintf(&b, "\n%d requests were recorded under another policy than the deployed one and are not counted above:", r.OtherPolicy.Count)
		b.WriteString(r.otherPolicyTransitions() + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// shortDuration writes 1h, 30m, 1h30m, 45s rather than 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
