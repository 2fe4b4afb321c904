package cli

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sentinel-tvm/sentinel-tvm/client"
	"github.com/sentinel-tvm/sentinel-tvm/internal/decisionlog"
)

// exportKinds are the record types of `sentinel-tvm export`.
var exportKinds = []string{"sessions", "approvals", "break-glass", "decisions"}

// Export columns: the CSV header row, and the JSON names of each line.
var (
	sessionColumns = []string{"session_id", "principal", "user", "caller_arn", "profile", "status", "rule", "via", "approval_id",
		"break_glass_id", "issued_at", "expires_at", "revoked_at", "revoked_by", "revoke_reason", "enforcement"}
	approvalColumns = []string{"approval_id", "status", "profile", "requester", "rule", "justification", "duration_seconds",
		"min_approvals", "created_at", "expires_at", "decided_at", "usable_until", "session_id", "decisions"}
	breakGlassColumns = []string{"event_id", "status", "profile", "principal", "reason_code", "justification", "duration_seconds",
		"opened_at", "expires_at", "closed_at", "closed_by", "close_comment"}
	decisionColumns = []string{"time", "request_id", "route", "status", "principal", "user", "caller_arn", "account", "org_id",
		"source_ip", "profile", "requested_duration_seconds", "approved", "break_glass", "decision", "rule", "reason", "via",
		"duration_seconds", "policy_sha256", "client", "session_id", "error_code"}
)

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func num(n int64) string { return strconv.FormatInt(n, 10) }

func sessionRow(s client.Session) []string {
	return []string{s.SessionID, s.Principal, s.User, s.CallerARN, s.Profile, s.Status, s.Rule, s.Via, s.ApprovalID, s.BreakGlassID,
		ts(s.IssuedAt), ts(s.ExpiresAt), ts(s.RevokedAt), s.RevokedBy, s.RevokeReason, s.Enforcement}
}

func approvalRow(a client.Approval) []string {
	decisions, _ := json.Marshal(a.Decisions)
	if len(a.Decisions) == 0 {
		decisions = []byte("[]")
	}
	return []string{a.ApprovalID, a.Status, a.Profile, a.Requester, a.Rule, a.Justification, num(a.DurationSeconds), num(int64(a.MinApprovals)),
		ts(a.CreatedAt), ts(a.ExpiresAt), ts(a.DecidedAt), ts(a.UsableUntil), a.SessionID, string(decisions)}
}

func breakGlassRow(e client.BreakGlassEvent) []string {
	return []string{e.EventID, e.Status, e.Profile, e.Principal, e.ReasonCode, e.Justification, num(e.DurationSeconds),
		ts(e.OpenedAt), ts(e.ExpiresAt), ts(e.ClosedAt), e.ClosedBy, e.CloseComment}
}

func decisionRow(e decisionlog.Event) []string {
	return []string{ts(e.Time), e.RequestID, e.Route, strconv.Itoa(e.Status), e.Principal, e.User, e.CallerARN, e.Account, e.OrgID,
		e.SourceIP, e.Profile, num(e.RequestedDurationSeconds), strconv.FormatBool(e.Approved), strconv.FormatBool(e.BreakGlass),
		e.Decision, e.Rule, e.Reason, e.Via, num(e.DurationSeconds), e.PolicySHA256, e.Client, e.SessionID, e.ErrorCode}
}

// decisionJSON is a decision event as one JSONL line, in the log's own
// field names.
func decisionJSON(e decisionlog.Event) any {
	row := decisionRow(e)
	m := make(map[string]any, len(row))
	for i, col := range decisionColumns {
		m[col] = row[i]
	}
	m["status"], m["approved"], m["break_glass"] = e.Status, e.Approved, e.BreakGlass
	m["requested_duration_seconds"], m["duration_seconds"] = e.RequestedDurationSeconds, e.DurationSeconds
	return m
}

// exportWriter writes records as CSV (header row first) or JSON lines,
// flushing after every page so a consumer sees them as they come.
type exportWriter struct {
	format string
	buf    *bufio.Writer
	csv    *csv.Writer
	enc    *json.Encoder
	bar    *progressbar.ProgressBar
	n      int
}

func newExportWriter(w io.Writer, stderr io.Writer, format, kind string, header []string) (*exportWriter, error) {
	x := &exportWriter{format: format, buf: bufio.NewWriter(w)}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		x.bar = progressbar.NewOptions(-1, progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("exporting "+kind),
			progressbar.OptionShowCount(), progressbar.OptionSetItsString(kind), progressbar.OptionShowIts(),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	switch format {
	case "csv":
		x.csv = csv.NewWriter(x.buf)
		return x, x.csv.Write(header)
	case "jsonl":
		x.enc = json.NewEncoder(x.buf)
		x.enc.SetEscapeHTML(false)
		return x, nil
	}
	return nil, usagef("--format %q is not csv or jsonl", format)
}

// spreadsheetSafe keeps a spreadsheet from running a cell someone typed
// (a justification, a comment) as a formula: such a cell gets a leading '.
func spreadsheetSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (x *exportWriter) record(row []string, v any) error {
	x.n++
	if x.csv != nil {
		for i := range row {
			row[i] = spreadsheetSafe(row[i])
		}
		return x.csv.Write(row)
	}
	return x.enc.Encode(v)
}

// recordIf writes one record when ok.
func (x *exportWriter) recordIf(ok bool, row []string, v any) error {
	if !ok {
		return nil
	}
	return x.record(row, v)
}

// page ends a page: flush, and move the progress bar.
func (x *exportWriter) page(read int) error {
	if x.csv != nil {
		x.csv.Flush()
		if err := x.csv.Error(); err != nil {
			return err
		}
	}
	if x.bar != nil {
		_ = x.bar.Set(read)
	}
	return x.buf.Flush()
}

func (x *exportWriter) finish() error {
	if x.bar != nil {
		_ = x.bar.Finish()
	}
	return x.page(x.n)
}

func exportCommand() *cobra.Command {
	var o clientOptions
	var p periodOptions
	var d decisionSource
	var format, kind string
	cmd := &cobra.Command{
		Use:   "export sessions|approvals|break-glass|decisions [--since 720h | --from DATE --to DATE] --format csv|jsonl",
		Short: "Write sessions, approvals, break-glass events or decisions of a period to stdout, for auditors and SIEMs",
		Long: `Export writes the records of a period to standard output as CSV (with a
header row) or JSON lines, page by page as it reads them, with a progress
bar on standard error when that is a terminal.

  sessions      sessions issued in the period
  approvals     approval requests created in the period
  break-glass   break-glass events opened in the period
  decisions     decision-log lines of the period (--decisions FILE... or --log-group NAME)

Operators get everyone's records, anyone else their own. In CSV, a cell that
starts with = + - @ (free text such as a justification) gets a leading ' so a
spreadsheet shows it instead of running it as a formula; JSON lines hold
every value as is.`,
		Example: `  sentinel-tvm export sessions --url "$SENTINEL_TVM_URL" --since 720h --format csv > sessions.csv
  sentinel-tvm export decisions --log-group /aws/lambda/sentinel-tvm --since 24h --format jsonl | my-siem-forwarder`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("%s takes one argument, the records: %s", cmd.CommandPath(), strings.Join(exportKinds, ", "))
			}
			kind = args[0]
			for _, k := range exportKinds {
				if k == kind {
					return nil
				}
			}
			return usagef("%q is not one of %s", kind, strings.Join(exportKinds, ", "))
		},
	}
	clientCommand(cmd, &o, func(ctx context.Context, c *client.Client, stdout io.Writer) error {
		if err := d.check(); err != nil {
			return err
		}
		if kind == "decisions" && !d.given() {
			return usagef("export decisions needs --decisions FILE... or --log-group NAME")
		}
		if kind != "decisions" && d.given() {
			return usagef("--decisions and --log-group are for export decisions")
		}
		from, to, err := p.period(cmd.Flags())
		if err != nil {
			return err
		}
		header := map[string][]string{"sessions": sessionColumns, "approvals": approvalColumns, "break-glass": breakGlassColumns, "decisions": decisionColumns}[kind]
		x, err := newExportWriter(stdout, cmd.ErrOrStderr(), format, kind, header)
		if err != nil {
			return err
		}
		inPeriod := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }
		warn := func(w string) {
			if w != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "sentinel-tvm: warning: %s\n", w)
			}
		}
		read := 0
		switch kind {
		case "sessions":
			err = streamPeriod(c.AllSessions(ctx, client.SessionFilter{}), func(s client.Session) time.Time { return s.IssuedAt }, from,
				func(s client.Session) error { return x.recordIf(inPeriod(s.IssuedAt), sessionRow(s), s) },
				func(n int) error { read = n; return x.page(n) })
		case "approvals":
			err = listApprovals(ctx, c, from, func(as []client.Approval) error {
				for _, a := range as {
					if err := x.recordIf(inPeriod(a.CreatedAt), approvalRow(a), a); err != nil {
						return err
					}
				}
				read += len(as)
				return x.page(read)
			})
		case "break-glass":
			err = streamPeriod(c.AllBreakGlass(ctx, false), func(e client.BreakGlassEvent) time.Time { return e.OpenedAt }, from,
				func(e client.BreakGlassEvent) error { return x.recordIf(inPeriod(e.OpenedAt), breakGlassRow(e), e) },
				func(n int) error { read = n; return x.page(n) })
		case "decisions":
			err = d.read(ctx, &o, c.Region(), from, to, func(e decisionlog.Event) error {
				if err := x.record(decisionRow(e), decisionJSON(e)); err != nil {
					return err
				}
				if x.n%500 == 0 {
					return x.page(x.n)
				}
				return nil
			}, func(n int) { read = n; _ = x.page(n) })
			if err != nil {
				if _, ok := err.(exitError); !ok {
					err = failf("%s", err)
				}
			}
			warn(d.emptyWarning())
		}
		if err != nil {
			return err
		}
		return x.finish()
	})
	f := cmd.Flags()
	f.StringVar(&format, "format", "csv", "csv (with a header row) or jsonl")
	p.register(f, 720*time.Hour)
	d.register(f)
	return cmd
}
