package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sentinel-tvm/sentinel-tvm/client"
)

// idArg accepts exactly one argument, the ID the command acts on.
func idArg(id *string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := exactArgs("ID")(cmd, args); err != nil {
			return err
		}
		*id = args[0]
		return nil
	}
}

// idempotency returns the call options of --idempotency-key.
func idempotency(key string) []client.CallOption {
	if key == "" {
		return nil
	}
	return []client.CallOption{client.WithIdempotencyKey(key)}
}

func idempotencyFlag(f *pflag.FlagSet, key *string) {
	f.StringVar(key, "idempotency-key", "", "send this Idempotency-Key: repeating the command with the same key gets the first answer")
}

// durationSeconds checks a --duration flag.
func durationSeconds(d time.Duration) (int64, error) {
	if d < 0 || d%time.Second != 0 {
		return 0, usagef("--duration %s must be a positive whole number of seconds, e.g. 30m", d)
	}
	return int64(d / time.Second), nil
}

// required checks that a required string flag is set.
func required(name, value string) error {
	if strings.TrimSpace(value) == "" {
		return usagef("--%s is required", name)
	}
	return nil
}

// fmtTime is RFC 3339 in UTC, or "-".
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// fmtSeconds is a duration like 15m or 1h30m, or "-".
func fmtSeconds(s int64) string {
	if s <= 0 {
		return "-"
	}
	d := (time.Duration(s) * time.Second).String()
	if strings.HasSuffix(d, "m0s") {
		d = strings.TrimSuffix(d, "0s")
	}
	if strings.HasSuffix(d, "h0m") {
		d = strings.TrimSuffix(d, "0m")
	}
	return d
}

// dash is s on one line, or "-" when empty.
func dash(s string) string {
	if s = oneLine(s); s == "" {
		return "-"
	}
	return s
}

// row writes one tab-separated line.
func row(w io.Writer, cells ...string) {
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

// --- profiles ---

func profilesCommand() *cobra.Command {
	var o clientOptions
	return clientCommand(&cobra.Command{
		Use:     "profiles [--url URL]",
		Short:   "List the profiles you may request, and how (allow, require_approval, break_glass)",
		Example: "  sentinel-tvm profiles --url http://127.0.0.1:8080",
		Args:    noArgs,
	}, &o, func(ctx context.Context, c *client.Client, stdout io.Writer) error {
		ps, err := c.Profiles(ctx)
		if err != nil {
			return err
		}
		return printList(&o, stdout, ps, []string{"PROFILE", "ACCESS", "RULE", "DURATION", "DESCRIPTION"}, func(p client.Profile) []string {
			return []string{p.Name, p.Access, dash(p.Rule), fmtSeconds(p.DurationSeconds), dash(p.Description)}
		})
	})
}

// --- paging ---

// pageFlags are the list commands' --limit and --next-token.
type pageFlags struct {
	limit int
	next  string
	flags *pflag.FlagSet
}

func (p *pageFlags) register(f *pflag.FlagSet) {
	p.flags = f
	f.IntVar(&p.limit, "limit", 0, fmt.Sprintf("at most this many, from 1 to %d (default %d)", client.MaxPageLimit, client.MaxPageLimit))
	f.StringVar(&p.next, "next-token", "", "the next page: the token a previous page printed (same other flags)")
}

func (p *pageFlags) options() (client.PageOptions, error) {
	if p.flags.Changed("limit") && (p.limit < 1 || p.limit > client.MaxPageLimit) {
		return client.PageOptions{}, usagef("--limit %d is not from 1 to %d", p.limit, client.MaxPageLimit)
	}
	return client.PageOptions{Limit: p.limit, NextToken: p.next}, nil
}

// print ends a page's human output with how to read the next page, if
// any (--json has next_token in the service's body); err is the
// printing's.
func (p *pageFlags) print(o *clientOptions, w io.Writer, next string, err error) error {
	if err != nil || o.json || next == "" {
		return err
	}
	_, err = fmt.Fprintf(w, "More follow: add --next-token %s\n", next)
	return err
}

// --- approvals ---

var approvalStatuses = []string{client.ApprovalPending, client.ApprovalApproved, client.ApprovalDenied,
	client.ApprovalCancelled, client.ApprovalExpired, client.ApprovalUsed}

func approvalsCommand() *cobra.Command {
	var o clientOptions
	var status string
	var pg pageFlags
	cmd := clientCommand(&cobra.Command{
		Use:   "approvals [--status S] [--limit N] [--next-token T]",
		Short: "List approval requests: your own, and those you may decide",
		Example: `  sentinel-tvm approvals --url http://127.0.0.1:8080 --status pending
  sentinel-tvm approvals --json | jq -r '.approvals[].approval_id'`,
		Args: noArgs,
	}, &o, func(ctx context.Context, c *client.Client, stdout io.Writer) error {
		if status != "" && !slices.Contains(approvalStatuses, status) {
			return usagef("--status %q is not one of %s", status, strings.Join(approvalStatuses, ", "))
		}
		po, err := pg.options()
		if err != nil {
			return err
		}
		p, err := c.ListApprovalsPage(ctx, status, po)
		if err != nil {
			return err
		}
		return pg.print(&o, stdout, p.NextToken, printList(&o, stdout, p.Approvals, []string{"ID", "STATUS", "PROFILE", "REQUESTER", "CREATED", "EXPIRES", "JUSTIFICATION"}, func(a client.Approval) []string {
			return []string{a.ApprovalID, a.Status, a.Profile, a.Requester, fmtTime(a.CreatedAt), fmtTime(a.ExpiresAt), dash(a.Justification)}
		}))
	})
	cmd.Flags().StringVar(&status, "status", "", "only requests in this status: "+strings.Join(approvalStatuses, ", "))
	pg.register(cmd.Flags())
	return cmd
}

// printApproval writes one approval as aligned "field value" lines.
func printApproval(w io.Writer, a *client.Approval) {
	row(w, "approval", a.ApprovalID)
	row(w, "status", a.Status)
	row(w, "profile", a.Profile)
	row(w, "requester", a.Requester)
	if a.Rule != "" {
		row(w, "rule", a.Rule)
	}
	if a.Justification != "" {
		row(w, "justification", oneLine(a.Justification))
	}
	if a.DurationSeconds > 0 {
		row(w, "duration", fmtSeconds(a.DurationSeconds))
	}
	if !a.CreatedAt.IsZero() {
		row(w, "created", fmtTime(a.CreatedAt))
	}
	row(w, "expires", fmtTime(a.ExpiresAt))
	if !a.UsableUntil.IsZero() {
		row(w, "usable until", fmtTime(a.UsableUntil))
	}
	if a.SessionID != "" {
		row(w, "session", a.SessionID)
	}
	for _, d := range a.Decisions {
		s := d.Decision + " by " + d.Approver + " at " + fmtTime(d.At)
		if d.Comment != "" {
			s += ": " + oneLine(d.Comment)
		}
		row(w, "decision", s)
	}
}

// idActionCommand builds a command that acts on one item by ID with an
// optional comment and an idempotency key (approve, deny, cancel,
// break-glass close), printing the item the service answers with.
func idActionCommand[T any](use, short, example, commentHelp string,
	act func(*client.Client, context.Context, string, string, ...client.CallOption) (T, error),
	show func(io.Writer, T)) *cobra.Command {
	var o clientOptions
	var comment, key, id string
	cmd := clientCommand(&cobra.Command{
		Use:     use + " ID [--comment C]",
		Short:   short,
		Example: example,
		Args:    idArg(&id),
	}, &o, func(ctx context.Context, c *client.Client, stdout io.Writer) error {
		item, err := act(c, ctx, id, comment, idempotency(key)...)
		if err != nil {
			return err
		}
		return o.print(stdout, func(w *tabwriter.Writer) { show(w, item) })
	})
	cmd.Flags().StringVar(&comment, "comment", "", commentHelp)
	idempotencyFlag(cmd.Flags(), &key)
	return cmd
}

// approvalActionCommand is approve, deny or cancel.
func approvalActionCommand(name, short string, act func(*client.Client, context.Context, string, string, ...client.CallOption) (*client.Approval, error)) *cobra.Command {
	return idActionCommand(name, short,
		"  sentinel-tvm "+name+" 0123456789abcdef0123456789abcdef --url http://127.0.0.1:8080 --comment 'ticket OPS-42'",
		"a comment recorded with the decision", act, printApproval)
}

func approveCommand() *cobra.Command {
	return approvalActionCommand("approve", "Approve someone else's approval request", (*client.Client).Approve)
}

func denyCommand() *cobra.Command {
	return approvalActionCommand("deny", "Deny someone else's approval request", (*client.Client).Deny)
}

func cancelCommand() *cobra.Command {
	return approvalActionCommand("cancel", "Cancel your own pending approval request", (*client.Client).Cancel)
}

func requestApprovalCommand() *cobra.Command {
	var o clientOptions
	var profile, justification, key string
	var duration time.Duration
	cmd := clientCommand(&cobra.Command{
		Use:   "request-approval --profile P --justification J [--duration D]",
		Short: "Ask for approval to use a profile; an approver decides, then you vend with --approval-id",
		Example: `  sentinel-tvm request-approval --url http://127.0.0.1:8080 --profile prod-admin --justification 'INC-1234: restart the API'
  sentinel-tvm credentials --url http://127.0.0.1:8080 --profile prod-admin --approval-id ID`,
		Args: noArgs,
	}, &o, func(ctx context.Context, c *client.Client, stdout io.Writer) error {
		if err := required("profile", profile); err != nil {
			return err
		}
		if err := required("justification", justification); err != nil {
			return err
		}
		secs, err := durationSeconds(duration)
		if err != nil {
			return err
		}
		a, err := c.CreateApproval(ctx, client.CreateApprovalRequest{Profile: profile, Justification: justification, DurationSeconds: secs}, idempotency(key)...)
		if err != nil {
			return err
		}
		return o.print(stdout, func(w *tabwriter.Writer) {
			printApproval(w, a)
			row(w, "next", "once approved: sentinel-tvm credentials --url "+o.url+" --profile "+a.Profile+" --approval-id "+a.ApprovalID)
		})
	})
	f := cmd.Flags()
	f.StringVar(&profile, "profile", "", "the TVM profile to ask for (required)")
	f.StringVar(&justification, "justification", "", "why you need it, for the approvers and the audit log (required)")
	f.DurationVar(&duration, "duration", 0, "session duration, e.g. 30m (default: the policy's)")
	idempotencyFlag(f, &key)
	return cmd
}

// --- break-glass ---

func breakGlassCommand() *cobra.Command {
	cmd := withUsageGroups(&cobra.Command{
		Use:   "break-glass",
		Short: "Open, list and close break-glass (emergency access) events",
	})
	cmd.AddCommand(breakGlassOpenCommand(), breakGlassListCommand(), breakGlassCloseCommand())
	return cmd
}

func breakGlassOpenCommand() *cobra.Command {
	var o clientOptions
	var profile, reasonCode, justification, key string
	var duration time.Duration
	cmd := clientCommand(&cobra.Command{
		Use:     "open --profile P --reason-code C --justification J [--duration D]",
		Short:   "Open an emergency access window on a profile (the policy's break_glass blocks say who may)",
		Example: "  sentinel-tvm break-glass open --url http://127.0.0.1:8080 --profile prod-admin --reason-code incident --justification 'INC-1234: database down, on-call needs admin'",
		Args:    noArgs,
	}, &o, func(ctx context.Context, c *client.Client, stdout io.Writer) error {
		for _, f := range [][2]string{{"profile", profile}, {"reason-code", reasonCode}, {"justification", justification}} {
			if err := required(f[0], f[1]); err != nil {
				return err
			}
		}
		secs, err := durationSeconds(duration)
		if err != nil {
			return err
		}
		e, err := c.OpenBreakGlass(ctx, client.BreakGlassRequest{Profile: profile, ReasonCode: reasonCode, Justification: justification, DurationSeconds: secs}, idempotency(key)...)
		if err != nil {
			return err
		}
		return o.print(stdout, func(w *tabwriter.Writer) { printBreakGlass(w, e) })
	})
	f := cmd.Flags()
	f.StringVar(&profile, "profile", "", "the TVM profile (required)")
	f.StringVar(&reasonCode, "reason-code", "", "one of the break_glass block's reason codes (required)")
	f.StringVar(&justification, "justification", "", "what happened and why, for the audit log (required)")
	f.DurationVar(&duration, "duration", 0, "how long the window stays open, e.g. 1h (default: the policy's)")
	idempotencyFlag(f, &key)
	return cmd
}

func printBreakGlass(w io.Writer, e *client.BreakGlassEvent) {
	row(w, "event", e.EventID)
	row(w, "status", e.Status)
	if e.Profile != "" {
		row(w, "profile", e.Profile)
	}
	if e.Principal != "" {
		row(w, "principal", e.Principal)
	}
	if e.ReasonCode != "" {
		row(w, "reason code", e.ReasonCode)
	}
	if e.Justification != "" {
		row(w, "justification", oneLine(e.Justification))
	}
	if !e.OpenedAt.IsZero() {
		row(w, "opened", fmtTime(e.OpenedAt))
	}
	if !e.ExpiresAt.IsZero() {
		row(w, "expires", fmtTime(e.ExpiresAt))
	}
	if !e.ClosedAt.IsZero() {
		row(w, "closed", fmtTime(e.ClosedAt))
	}
	if e.ClosedBy != "" {
		row(w, "closed by", e.ClosedBy)
	}
	if e.CloseComment != "" {
		row(w, "comment", oneLine(e.CloseComment))
	}
	if len(e.RevokedSessions) > 0 {
		row(w, "revoked sessions", strings.Join(e.RevokedSessions, ", "))
	}
}

func breakGlassListCommand() *cobra.Command {
	var o clientOptions
	var active bool
	var pg pageFlags
	cmd := clientCommand(&cobra.Command{
		Use:     "list [--active] [--limit N] [--next-token T]",
		Short:   "List break-glass events",
		Example: "  sentinel-tvm break-glass list --url http://127.0.0.1:8080 --active",
		Args:    noArgs,
	}, &o, func(ctx context.Context, c *client.Client, stdout io.Writer) error {
		po, err := pg.options()
		if err != nil {
			return err
		}
		p, err := c.ListBreakGlassPage(ctx, active, po)
		if err != nil {
			return err
		}
		return pg.print(&o, stdout, p.NextToken, printList(&o, stdout, p.Events, []string{"ID", "STATUS", "PROFILE", "PRINCIPAL", "REASON", "OPENED", "EXPIRES"}, func(e client.BreakGlassEvent) []string {
			return []string{e.EventID, e.Status, dash(e.Profile), dash(e.Principal), dash(e.ReasonCode), fmtTime(e.OpenedAt), fmtTime(e.ExpiresAt)}
		}))
	})
	cmd.Flags().BoolVar(&active, "active", false, "only events still open")
	pg.register(cmd.Flags())
	return cmd
}

func breakGlassCloseCommand() *cobra.Command {
	var revokeSessions bool
	cmd := idActionCommand("close", "Close a break-glass event: no more vends through it",
		"  sentinel-tvm break-glass close 0123456789abcdef0123456789abcdef --url http://127.0.0.1:8080 --comment 'resolved' --revoke-sessions",
		"a comment recorded with the close",
		func(c *client.Client, ctx context.Context, id, comment string, opts ...client.CallOption) (*client.BreakGlassEvent, error) {
			return c.CloseBreakGlassWith(ctx, id, client.CloseBreakGlassRequest{Comment: comment, RevokeSessions: revokeSessions}, opts...)
		}, printBreakGlass)
	cmd.Use = "close ID [--comment C] [--revoke-sessions]"
	cmd.Flags().BoolVar(&revokeSessions, "revoke-sessions", false, "also revoke the sessions the event vended")
	return cmd
}

// --- sessions ---

func sessionsCommand() *cobra.Command {
	var o clientOptions
	var f client.SessionFilter
	var pg pageFlags
	cmd := clientCommand(&cobra.Command{
		Use:   "sessions [--profile P] [--principal ARN] [--active] [--limit N] [--next-token T]",
		Short: "List vended sessions: your own, or everyone's for operators",
		Example: `  sentinel-tvm sessions --url http://127.0.0.1:8080 --active
  sentinel-tvm sessions --profile prod-admin --principal arn:aws:iam::111122223333:role/engineer-dev --json`,
		Args: noArgs,
	}, &o, func(ctx context.Context, c *client.Client, stdout io.Writer) error {
		po, err := pg.options()
		if err != nil {
			return err
		}
		p, err := c.ListSessionsPage(ctx, f, po)
		if err != nil {
			return err
		}
		return pg.print(&o, stdout, p.NextToken, printList(&o, stdout, p.Sessions, []string{"ID", "STATUS", "PROFILE", "PRINCIPAL", "VIA", "ISSUED", "EXPIRES"}, func(s client.Session) []string {
			return []string{s.SessionID, s.Status, s.Profile, s.Principal, dash(s.Via), fmtTime(s.IssuedAt), fmtTime(s.ExpiresAt)}
		}))
	})
	fl := cmd.Flags()
	fl.StringVar(&f.Profile, "profile", "", "only sessions of this TVM profile")
	fl.StringVar(&f.Principal, "principal", "", "only sessions of this principal ARN (operators)")
	fl.BoolVar(&f.ActiveOnly, "active", false, "only sessions not yet expired or revoked")
	pg.register(fl)
	return cmd
}

func sessionCommand() *cobra.Command {
	var o clientOptions
	var id string
	return clientCommand(&cobra.Command{
		Use:     "session ID",
		Short:   "Show one vended session",
		Example: "  sentinel-tvm session 0123456789abcdef0123456789abcdef --url http://127.0.0.1:8080",
		Args:    idArg(&id),
	}, &o, func(ctx context.Context, c *client.Client, stdout io.Writer) error {
		s, err := c.GetSession(ctx, id)
		if err != nil {
			return err
		}
		return o.print(stdout, func(w *tabwriter.Writer) {
			row(w, "session", s.SessionID)
			row(w, "status", s.Status)
			row(w, "profile", s.Profile)
			row(w, "principal", s.Principal)
			for _, f := range [][2]string{{"caller", s.CallerARN}, {"role", s.RoleARN}, {"source identity", s.SourceIdentity},
				{"rule", s.Rule}, {"via", s.Via}, {"approval", s.ApprovalID}, {"break-glass event", s.BreakGlassID}} {
				if f[1] != "" {
					row(w, f[0], f[1])
				}
			}
			row(w, "issued", fmtTime(s.IssuedAt))
			row(w, "expires", fmtTime(s.ExpiresAt))
			if !s.RevokedAt.IsZero() {
				row(w, "revoked", fmtTime(s.RevokedAt))
			}
			for _, f := range [][2]string{{"revoked by", s.RevokedBy}, {"revoke reason", oneLine(s.RevokeReason)}, {"enforcement", s.Enforcement}} {
				if f[1] != "" {
					row(w, f[0], f[1])
				}
			}
		})
	})
}

func revokeCommand() *cobra.Command {
	var o clientOptions
	var reason, key, id string
	var blockMinutes int
	cmd := clientCommand(&cobra.Command{
		Use:   "revoke ID --reason R [--block-minutes N]",
		Short: "Revoke a session: its credentials stop working once IAM propagates",
		Long: `Revoke marks the session revoked and denies its credentials on the vended
role (an inline deny conditioned on the session's tag), so credentials already
handed out stop working once IAM propagates. Operators may revoke any session,
everyone may revoke their own.`,
		Example: "  sentinel-tvm revoke 0123456789abcdef0123456789abcdef --url http://127.0.0.1:8080 --reason 'laptop stolen'",
		Args:    idArg(&id),
	}, &o, func(ctx context.Context, c *client.Client, stdout io.Writer) error {
		if err := required("reason", reason); err != nil {
			return err
		}
		if blockMinutes < 0 || blockMinutes > 24*60 {
			return usagef("--block-minutes %d must be from 1 to %d", blockMinutes, 24*60)
		}
		r, err := c.Revoke(ctx, id, client.RevokeRequest{Reason: reason, BlockMinutes: blockMinutes}, idempotency(key)...)
		if err != nil {
			return err
		}
		return o.print(stdout, func(w *tabwriter.Writer) {
			row(w, "session", r.SessionID)
			row(w, "status", r.Status)
			row(w, "enforcement", dash(r.Enforcement))
			if !r.TokenIssueCutoff.IsZero() {
				row(w, "token issue cutoff", fmtTime(r.TokenIssueCutoff))
			}
			if r.Warning != "" {
				row(w, "warning", oneLine(r.Warning))
			}
		})
	})
	f := cmd.Flags()
	f.StringVar(&reason, "reason", "", "why, for the audit log (required)")
	f.IntVar(&blockMinutes, "block-minutes", 0, "also refuse the person new vends of the profile for this many minutes (1 to 1440)")
	idempotencyFlag(f, &key)
	return cmd
}
